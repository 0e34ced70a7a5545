// Delivers the Slack outbox: creates incident channels, invites, topics, posts, pins and transcript uploads.
import type { WebClient } from '@slack/web-api';
import type { App } from '../../app.js';
import { EXPORT_FORMATS, type ExportFormat } from '../../core/commands/incident-commands.js';
import { RENDERERS } from '../../core/export/transcript.js';
import type { Incident } from '../../core/incidents/incident.js';
import type { ChatMessage, OutboxItem } from '../../core/outbox/outbox.js';
import type { Clock } from '../../core/ports.js';
import { ConflictError, InputError, NotFoundError, UnavailableError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { startOutboxDispatcher, type DeliveryResult } from '../outbox/outbox-dispatcher.js';
import { escapeMrkdwn, escapeText, renderMessage } from './blocks.js';
import { classifySlackError, slackErrorCode } from './slack-errors.js';

export interface SlackDeliveryDeps {
  app: App;
  client: WebClient;
  logger: Logger;
  clock?: Clock;
  sleep?: (ms: number) => Promise<void>;
  perChannelIntervalMs?: number;
  concurrency?: number;
  /** Jitter source for backoff, in [0, 1). */
  random?: () => number;
  /** Longest idle wait before looking for messages queued by another process. */
  idlePollMs?: number;
}

export interface SlackDelivery {
  kick(): void;
  stop(): Promise<void>;
  /** tests: deliver everything due now, resolve when idle */
  drain(): Promise<void>;
}

const INCIDENT_KEY = /^incident:(.+)$/;
/** Public (C), private (G) and direct (D) conversation IDs. */
const CHANNEL_ID = /^[CGD][A-Z0-9]{2,}$/;
const USER_ID = /^[UW][A-Z0-9]{2,}$/;
const CHANNEL_NAME_MAX = 80;
/** `name`, `name-2` … `name-20`; past that something other than a clash is going on. */
const CHANNEL_NAME_TRIES = 20;
const TOPIC_MAX = 250;
/** Kinds after which the incident channel's topic may be out of date. */
const TOPIC_KINDS = new Set([
  'incident.declared',
  'incident.updated',
  'incident.severity_changed',
  'incident.role_assigned',
  'incident.acknowledged',
  'incident.resolved',
]);
const INVITE_FINE = new Set(['already_in_channel', 'cant_invite_self']);
const PIN_FINE = new Set(['already_pinned']);

/** `base-n`, trimmed so the whole name stays within Slack's 80 characters. */
export function suffixedChannelName(base: string, n: number): string {
  if (n <= 1) return base.slice(0, CHANNEL_NAME_MAX);
  const suffix = `-${n}`;
  return `${base.slice(0, CHANNEL_NAME_MAX - suffix.length).replace(/-+$/, '')}${suffix}`;
}

/** `SEV2 · investigating · commander <@U…>`: what a glance at the channel header should tell. */
export function incidentTopic(incident: Incident): string {
  const commander = incident.roles.commander;
  const who = commander === null ? 'unassigned' : USER_ID.test(commander) ? `<@${commander}>` : escapeText(commander);
  const parts = [`SEV${incident.severity}`, incident.status, `commander ${who}`];
  if (incident.service) parts.push(`service ${escapeText(incident.service)}`);
  const topic = parts.join(' · ');
  return topic.length <= TOPIC_MAX ? topic : parts.slice(0, 3).join(' · ').slice(0, TOPIC_MAX);
}

const stringList = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

/** One delivery attempt of one Slack outbox message. */
export function createSlackDeliverer(deps: { app: App; client: WebClient; logger: Logger }): (item: OutboxItem) => Promise<DeliveryResult> {
  const { app, client } = deps;
  const logger = deps.logger.child({ component: 'slack-delivery' });
  // Topics already set by this process, so an unchanged topic is not set (and announced in the channel) again.
  const topics = new Map<string, string>();

  function incidentOf(key: string): Incident | undefined {
    const m = INCIDENT_KEY.exec(key);
    if (!m) return undefined;
    const incident = app.incidents.find(m[1]!);
    if (!incident) throw new NotFoundError(`${m[1]!} does not exist`);
    return incident;
  }

  async function createChannel(incident: Incident, message: ChatMessage, log: Logger): Promise<string> {
    const data = message.data ?? {};
    const base = typeof data.channelName === 'string' && data.channelName ? data.channelName : incident.channelName;
    const isPrivate = typeof data.private === 'boolean' ? data.private : incident.private;
    for (let n = 1; n <= CHANNEL_NAME_TRIES; n += 1) {
      const name = suffixedChannelName(base, n);
      try {
        const created = await client.conversations.create({ name, is_private: isPrivate });
        const id = created.channel?.id;
        if (!id) throw new UnavailableError('conversations.create answered without a channel id');
        // Recorded at once: a later attempt (or a restart) posts into this channel instead of making another.
        app.incidents.attachChannel(incident.id, id);
        log.info({ incidentId: incident.id, channelId: id, name, private: isPrivate }, 'incident channel created');
        return id;
      } catch (err) {
        if (slackErrorCode(err) === 'name_taken') continue;
        throw err;
      }
    }
    throw new ConflictError(`no free channel name for ${base} (tried ${CHANNEL_NAME_TRIES} suffixes)`);
  }

  async function invite(channel: string, users: string[], log: Logger): Promise<void> {
    for (const user of users) {
      try {
        await client.conversations.invite({ channel, users: user });
      } catch (err) {
        const code = slackErrorCode(err);
        if (code !== undefined && INVITE_FINE.has(code)) continue;
        // Someone who cannot be invited (a guest, a deactivated account) must not hold back the message.
        if (classifySlackError(err).kind === 'permanent') {
          log.warn({ err, user, channel }, 'could not invite a user to the incident channel');
          continue;
        }
        throw err;
      }
    }
  }

  async function setTopic(channel: string, incident: Incident, log: Logger): Promise<void> {
    const topic = incidentTopic(incident);
    if (topics.get(channel) === topic) return;
    try {
      await client.conversations.setTopic({ channel, topic });
      topics.set(channel, topic);
    } catch (err) {
      if (classifySlackError(err).kind !== 'permanent') throw err;
      log.warn({ err, channel }, 'could not set the incident channel topic');
    }
  }

  async function post(channel: string, message: ChatMessage, log: Logger): Promise<string | undefined> {
    const { text, blocks } = renderMessage(message);
    const args = { channel, text, blocks, unfurl_links: false, unfurl_media: false, link_names: false, parse: 'none' as const };
    try {
      return (await client.chat.postMessage(args)).ts;
    } catch (err) {
      // A public channel the bot has not joined (a run asked for outside an incident): join once, then post.
      if (slackErrorCode(err) !== 'not_in_channel' || !channel.startsWith('C')) throw err;
      try {
        await client.conversations.join({ channel });
      } catch (joinErr) {
        log.warn({ err: joinErr, channel }, 'could not join the channel to post in it');
        throw err;
      }
      return (await client.chat.postMessage(args)).ts;
    }
  }

  async function pin(channel: string, ts: string, log: Logger): Promise<void> {
    try {
      await client.pins.add({ channel, timestamp: ts });
    } catch (err) {
      // The message is out; failing the delivery now would post it twice.
      const code = slackErrorCode(err);
      if (code === undefined || !PIN_FINE.has(code)) log.warn({ err, channel }, 'could not pin the message');
    }
  }

  async function uploadTranscript(channel: string, message: ChatMessage, fallbackIncident: Incident | undefined): Promise<void> {
    const data = message.data ?? {};
    const incidentId = typeof data.incidentId === 'string' ? data.incidentId : fallbackIncident?.id;
    if (!incidentId) throw new InputError('an export request names no incident');
    const format = (typeof data.format === 'string' ? data.format : 'md') as ExportFormat;
    if (!EXPORT_FORMATS.includes(format)) throw new InputError(`unknown export format "${String(data.format)}"`);
    // The same renderers and sources as `edgeops export`, so the file is byte for byte what the CLI writes.
    const content = [...RENDERERS[format](app.transcript(incidentId))].join('');
    await client.files.uploadV2({
      channel_id: channel,
      filename: `${incidentId}.${format}`,
      title: `${incidentId} transcript (${format})`,
      content,
      initial_comment: escapeMrkdwn(message.text),
    });
  }

  return async function deliver(item: OutboxItem): Promise<DeliveryResult> {
    const message = item.body as ChatMessage;
    const log = logger.child({ outboxId: item.id, channel: item.channel, kind: message.kind });
    try {
      if (typeof message.text !== 'string') throw new InputError('the queued message has no text');
      const incident = incidentOf(item.channel);
      let channel: string;
      if (incident) {
        channel = incident.channelId ?? (await createChannel(incident, message, log));
        const invites = stringList(message.data?.invite).filter((u) => USER_ID.test(u));
        if (invites.length > 0) await invite(channel, invites, log);
        if (message.kind && TOPIC_KINDS.has(message.kind)) await setTopic(channel, app.incidents.get(incident.id), log);
      } else if (CHANNEL_ID.test(item.channel)) {
        channel = item.channel;
      } else {
        throw new InputError(`"${item.channel}" is neither an incident nor a Slack channel ID`);
      }

      if (message.kind === 'incident.export') {
        await uploadTranscript(channel, message, incident);
        return { kind: 'sent' };
      }
      const ts = await post(channel, message, log);
      if (message.pin && ts) await pin(channel, ts, log);
      return { kind: 'sent' };
    } catch (err) {
      const result = classifySlackError(err);
      if (result.kind === 'transient' && !slackErrorCode(err)) log.debug({ err }, 'slack call failed');
      return result;
    }
  };
}

/** Starts delivering the Slack outbox in the background; `kick()` whenever messages are queued. */
export function startSlackDelivery(deps: SlackDeliveryDeps): SlackDelivery {
  const { app } = deps;
  const dispatcher = startOutboxDispatcher({
    target: 'slack',
    outbox: app.store.outbox,
    audit: app.store.audit,
    uow: app.store,
    deliver: createSlackDeliverer({ app, client: deps.client, logger: deps.logger }),
    logger: deps.logger,
    clock: deps.clock ?? app.clock,
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
    ...(deps.random ? { random: deps.random } : {}),
    ...(deps.perChannelIntervalMs === undefined ? {} : { perChannelIntervalMs: deps.perChannelIntervalMs }),
    ...(deps.concurrency === undefined ? {} : { concurrency: deps.concurrency }),
    ...(deps.idlePollMs === undefined ? {} : { idlePollMs: deps.idlePollMs }),
  });
  return { kick: () => dispatcher.kick(), stop: () => dispatcher.stop(), drain: () => dispatcher.drain() };
}
