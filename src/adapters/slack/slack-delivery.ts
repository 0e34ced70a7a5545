// Delivers the Slack outbox within Slack's rate limits: incident channels, invites, topics, posts, in-place run results, pins, uploads.
import type { WebClient } from '@slack/web-api';
import type { App } from '../../app-ports.js';
import { EXPORT_FORMATS, type ExportFormat } from '../../core/commands/incident-commands.js';
import { RENDERERS, renderToString } from '../../core/export/transcript.js';
import type { Incident } from '../../core/incidents/incident.js';
import { incidentOfChannelKey } from '../../core/outbox/channel-key.js';
import { runStartedKey } from '../../core/outbox/delivery-order.js';
import type { ChatMessage, OutboxItem } from '../../core/outbox/outbox.js';
import type { PlannedCall, RateLimiter } from '../../core/outbox/rate-limiter.js';
import type { Clock } from '../../core/ports.js';
import { isChatText, userRef } from '../../core/rich-text.js';
import { isFinal, type Run } from '../../core/runs/run.js';
import { USER_ID } from '../../core/user-id.js';
import { ConflictError, InputError, NotFoundError, UnavailableError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { DeliveryResult } from '../outbox/outbox-dispatcher.js';
import { escapeText, renderMessage } from './blocks.js';
import { slackMrkdwn } from './slack-mrkdwn.js';
import { classifySlackError, slackErrorCode } from './slack-errors.js';
import { createSlackRateLimiter } from './slack-rate-limits.js';

/** What Slack delivery reads and drains: incidents and runs the messages are about, transcripts to upload, the outbox. */
export type SlackDeliveryPorts = Pick<App, 'incidents' | 'runs' | 'transcript' | 'outboxes' | 'clock'>;

export interface SlackDeliveryDeps {
  app: SlackDeliveryPorts;
  client: WebClient;
  logger: Logger;
  clock?: Clock;
  sleep?: (ms: number) => Promise<void>;
  perChannelIntervalMs?: number;
  /** Least time between two posts into one channel (EDGEOPS_SLACK_CHANNEL_PACE_MS; default Slack's 1 s); ignored when `limiter` is given. */
  channelPaceMs?: number;
  concurrency?: number;
  /** Jitter source for backoff, in [0, 1). */
  random?: () => number;
  /** Longest idle wait before looking for messages queued by another process. */
  idlePollMs?: number;
  /** Slack's limits as we keep to them (default: SLACK_RATE_RULES); tests pass their own. */
  limiter?: RateLimiter;
  /** A run that ends within this long of its start has its start message updated with the result (default 5 s). */
  updateInPlaceWithinMs?: number;
}

/** Runs this quick are one message, edited when they end; slower ones get a new message, which notifies. */
export const UPDATE_IN_PLACE_WITHIN_MS = 5_000;

export interface SlackDelivery {
  kick(): void;
  stop(): Promise<void>;
  /** tests: deliver everything due now, resolve when idle */
  drain(): Promise<void>;
}

/** Public (C), private (G) and direct (D) conversation IDs. */
const CHANNEL_ID = /^[CGD][A-Z0-9]{2,}$/;
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
/** chat.update refusals after which the result is posted as a new message instead. */
const UPDATE_GONE = new Set(['message_not_found', 'cant_update_message', 'edit_window_closed', 'msg_too_long']);
/** A channel the bot has not created yet: its posting bucket is full, whatever it will be called. */
const NEW_CHANNEL = 'new-channel';

/** A 429 inside files.uploadV2 came from one of its two counted steps; we cannot tell which, so both wait. */
const PAUSED_WITH: Record<string, string[]> = { 'files.uploadV2': ['files.getUploadURLExternal', 'files.completeUploadExternal'] };

/** `C0123 1700000000.000100`: where a message is, as kept in the outbox receipt. */
const receiptOf = (channel: string, ts: string): string => `${channel} ${ts}`;
function parseReceipt(receipt: string): { channel: string; ts: string } | undefined {
  const [channel, ts] = receipt.split(' ');
  return channel && ts ? { channel, ts } : undefined;
}

/** `base-n`, trimmed so the whole name stays within Slack's 80 characters. */
export function suffixedChannelName(base: string, n: number): string {
  if (n <= 1) return base.slice(0, CHANNEL_NAME_MAX);
  const suffix = `-${n}`;
  return `${base.slice(0, CHANNEL_NAME_MAX - suffix.length).replace(/-+$/, '')}${suffix}`;
}

/** `SEV2 · investigating · commander <@U…>`: what a glance at the channel header should tell. */
export function incidentTopic(incident: Incident): string {
  const commander = incident.roles.commander;
  const who = commander === null ? 'unassigned' : slackMrkdwn([userRef(commander)]);
  const parts = [`SEV${incident.severity}`, incident.status, `commander ${who}`];
  if (incident.service) parts.push(`service ${escapeText(incident.service)}`);
  const topic = parts.join(' · ');
  return topic.length <= TOPIC_MAX ? topic : parts.slice(0, 3).join(' · ').slice(0, TOPIC_MAX);
}

const stringList = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

export interface SlackDelivererDeps {
  app: SlackDeliveryPorts;
  client: WebClient;
  logger: Logger;
  clock?: Clock;
  limiter?: RateLimiter;
  updateInPlaceWithinMs?: number;
}

/** One delivery attempt of one Slack outbox message, sent only when Slack's limits allow all of its calls. */
export function createSlackDeliverer(deps: SlackDelivererDeps): (item: OutboxItem) => Promise<DeliveryResult> {
  const { app, client } = deps;
  const clock = deps.clock ?? app.clock;
  const limiter = deps.limiter ?? createSlackRateLimiter();
  const updateWithinMs = deps.updateInPlaceWithinMs ?? UPDATE_IN_PLACE_WITHIN_MS;
  const logger = deps.logger.child({ component: 'slack-delivery' });
  // Topics already set by this process, so an unchanged topic is not set (and announced in the channel) again.
  const topics = new Map<string, string>();

  /**
   * Makes one Web API call, counted against its bucket. A 429 pauses that method for the whole
   * workspace for as long as Slack asked: its Retry-After wins over our own model.
   */
  async function call<T>(method: string, channel: string | undefined, fn: () => Promise<T>, counted = false): Promise<T> {
    if (!counted) limiter.take([{ method, channel }], clock.now());
    try {
      return await fn();
    } catch (err) {
      const result = classifySlackError(err);
      if (result.kind === 'retry') for (const m of PAUSED_WITH[method] ?? [method]) limiter.pause(m, clock.now() + result.afterMs);
      throw err;
    }
  }

  async function incidentOf(key: string): Promise<Incident | undefined> {
    const id = incidentOfChannelKey(key);
    if (id === null) return undefined;
    const incident = await app.incidents.find(id);
    if (!incident) throw new NotFoundError(`${id} does not exist`);
    return incident;
  }

  async function createChannel(incident: Incident, message: ChatMessage, log: Logger): Promise<string> {
    const data = message.data ?? {};
    const base = typeof data.channelName === 'string' && data.channelName ? data.channelName : incident.channelName;
    const isPrivate = typeof data.private === 'boolean' ? data.private : incident.private;
    for (let n = 1; n <= CHANNEL_NAME_TRIES; n += 1) {
      const name = suffixedChannelName(base, n);
      try {
        // The first try was counted with the rest of the message; a taken name costs another call.
        const created = await call('conversations.create', undefined, () => client.conversations.create({ name, is_private: isPrivate }), n === 1);
        const id = created.channel?.id;
        if (!id) throw new UnavailableError('conversations.create answered without a channel id');
        // Recorded at once: a later attempt (or a restart) posts into this channel instead of making another.
        await app.incidents.attachChannel(incident.id, id);
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
        await call('conversations.invite', channel, () => client.conversations.invite({ channel, users: user }), true);
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

  async function setTopic(channel: string, topic: string, log: Logger): Promise<void> {
    try {
      await call('conversations.setTopic', channel, () => client.conversations.setTopic({ channel, topic }), true);
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
      return (await call('chat.postMessage', channel, () => client.chat.postMessage(args))).ts;
    } catch (err) {
      // A public channel the bot has not joined (a run asked for outside an incident): join once, then post.
      if (slackErrorCode(err) !== 'not_in_channel' || !channel.startsWith('C')) throw err;
      try {
        await call('conversations.join', channel, () => client.conversations.join({ channel }));
      } catch (joinErr) {
        log.warn({ err: joinErr, channel }, 'could not join the channel to post in it');
        throw err;
      }
      return (await call('chat.postMessage', channel, () => client.chat.postMessage(args))).ts;
    }
  }

  async function pin(channel: string, ts: string, log: Logger): Promise<void> {
    try {
      await call('pins.add', channel, () => client.pins.add({ channel, timestamp: ts }), true);
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
    const content = await renderToString(RENDERERS[format], await app.transcript(incidentId));
    // Both counted API steps were taken with the message; the upload between them is not rate limited.
    await call('files.uploadV2', channel, () => client.files.uploadV2({
      channel_id: channel,
      filename: `${incidentId}.${format}`,
      title: `${incidentId} transcript (${format})`,
      content,
      initial_comment: slackMrkdwn(message.text),
    }), true);
  }

  /** Replaces a run's start message with its result; false when Slack will not edit it (then it is posted). */
  async function update(at: { channel: string; ts: string }, message: ChatMessage, log: Logger): Promise<boolean> {
    const { text, blocks } = renderMessage(message);
    try {
      await call('chat.update', at.channel, () => client.chat.update({ channel: at.channel, ts: at.ts, text, blocks, link_names: false, parse: 'none' }), true);
      return true;
    } catch (err) {
      const code = slackErrorCode(err);
      if (code === undefined || !UPDATE_GONE.has(code)) throw err;
      log.warn({ err, channel: at.channel }, 'could not update the run start message; posting the result instead');
      return false;
    }
  }

  async function runOf(message: ChatMessage): Promise<Run | undefined> {
    const id = message.data?.runId;
    if (typeof id !== 'string') return undefined;
    try {
      return await app.runs.get(id);
    } catch {
      return undefined;
    }
  }

  /** Where a run result goes: over its start message when the run was quick and that message is known. */
  async function inPlaceTarget(message: ChatMessage, channel: string): Promise<{ channel: string; ts: string } | undefined> {
    if (message.kind !== 'run.finished') return undefined;
    const run = await runOf(message);
    if (!run || run.startedAt === null || run.finishedAt === null || run.finishedAt - run.startedAt > updateWithinMs) return undefined;
    const sent = await app.outboxes.receipt('slack', runStartedKey(run.id));
    const at = sent ? parseReceipt(sent.receipt) : undefined;
    return at && at.channel === channel ? at : undefined;
  }

  /** A start message whose run has already ended says nothing the result will not: the result is the one message. */
  async function startAlreadyOver(message: ChatMessage): Promise<boolean> {
    if (message.kind !== 'run.started') return false;
    const run = await runOf(message);
    return run !== undefined && isFinal(run.state);
  }

  return async function deliver(item: OutboxItem): Promise<DeliveryResult> {
    const message = item.body as ChatMessage;
    const log = logger.child({ outboxId: item.id, channel: item.channel, kind: message.kind });
    try {
      if (!isChatText(message.text)) throw new InputError('the queued message has no text');
      const incident = await incidentOf(item.channel);
      if (!incident && !CHANNEL_ID.test(item.channel)) {
        throw new InputError(`"${item.channel}" is neither an incident nor a Slack channel ID`);
      }
      const known = incident ? incident.channelId : item.channel;
      const invites = incident ? stringList(message.data?.invite).filter((u) => USER_ID.test(u)) : [];
      const topic = incident && message.kind && TOPIC_KINDS.has(message.kind) ? incidentTopic(await app.incidents.get(incident.id)) : undefined;
      const setsTopic = topic !== undefined && (known === null || topics.get(known) !== topic);
      const folded = await startAlreadyOver(message);
      const inPlace = known === null ? undefined : await inPlaceTarget(message, known);

      // Every call this message needs, checked against Slack's limits before the first one goes:
      // a message waits whole rather than stopping halfway.
      const where = known ?? NEW_CHANNEL;
      const planned: PlannedCall[] = [];
      if (known === null) planned.push({ method: 'conversations.create' });
      for (let i = 0; i < invites.length; i += 1) planned.push({ method: 'conversations.invite' });
      if (setsTopic) planned.push({ method: 'conversations.setTopic' });
      if (message.kind === 'incident.export') {
        planned.push({ method: 'files.getUploadURLExternal' }, { method: 'files.completeUploadExternal' });
      } else if (inPlace) {
        planned.push({ method: 'chat.update' });
      } else if (!folded) {
        planned.push({ method: 'chat.postMessage', channel: where });
        if (message.pin) planned.push({ method: 'pins.add' });
      }
      const now = clock.now();
      const wait = limiter.delay(planned, now);
      if (wait > 0) return { kind: 'later', atMs: now + wait };
      // Taken at once, before any await, so concurrent channels cannot spend the same workspace tokens.
      // A post's token is per channel and is taken when it goes (a new channel's id is not known yet).
      limiter.take(planned.filter((c) => c.method !== 'chat.postMessage'), now);

      const channel = known ?? (await createChannel(incident!, message, log));
      if (invites.length > 0) await invite(channel, invites, log);
      if (setsTopic) await setTopic(channel, topic, log);
      if (message.kind === 'incident.export') {
        await uploadTranscript(channel, message, incident);
        return { kind: 'sent' };
      }
      if (folded) {
        log.debug('run already ended; its result will be its only message');
        return { kind: 'sent' };
      }
      if (inPlace && (await update(inPlace, message, log))) return { kind: 'sent', receipt: receiptOf(inPlace.channel, inPlace.ts) };
      const ts = await post(channel, message, log);
      if (message.pin && ts) await pin(channel, ts, log);
      return ts ? { kind: 'sent', receipt: receiptOf(channel, ts) } : { kind: 'sent' };
    } catch (err) {
      const result = classifySlackError(err);
      if (result.kind === 'transient' && !slackErrorCode(err)) log.debug({ err }, 'slack call failed');
      return result;
    }
  };
}

/** Channels delivered at once: calls are I/O, and a channel waiting for its limit frees its slot. */
const SLACK_CONCURRENCY = 16;

/** Starts delivering the Slack outbox in the background; `kick()` whenever messages are queued. */
export function startSlackDelivery(deps: SlackDeliveryDeps): SlackDelivery {
  const { app } = deps;
  const dispatcher = app.outboxes.dispatch({
    target: 'slack',
    deliver: createSlackDeliverer({
      app,
      client: deps.client,
      logger: deps.logger,
      clock: deps.clock ?? app.clock,
      limiter: deps.limiter ?? createSlackRateLimiter({ channelPaceMs: deps.channelPaceMs }),
      ...(deps.updateInPlaceWithinMs === undefined ? {} : { updateInPlaceWithinMs: deps.updateInPlaceWithinMs }),
    }),
    logger: deps.logger,
    clock: deps.clock ?? app.clock,
    // Slack's own limits pace each channel (the rate limiter above); no flat gap between messages on top.
    perChannelIntervalMs: deps.perChannelIntervalMs ?? 0,
    concurrency: deps.concurrency ?? SLACK_CONCURRENCY,
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
    ...(deps.random ? { random: deps.random } : {}),
    ...(deps.idlePollMs === undefined ? {} : { idlePollMs: deps.idlePollMs }),
  });
  return { kick: () => dispatcher.kick(), stop: () => dispatcher.stop(), drain: () => dispatcher.drain() };
}
