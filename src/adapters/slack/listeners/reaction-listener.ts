// A :pushpin: reaction on a message in an incident channel copies that message onto the timeline, once.
import type { App as BoltApp } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { z } from 'zod';
import { TEXT_MAX } from '../../../core/incidents/incident.js';
import { errorReply } from './reply.js';
import { SLACK_USER_ID, slackActor, type ListenerDeps } from './listener-deps.js';
import { decodeSlackText } from './slack-text.js';

export const PIN_REACTION = 'pushpin';

const ReactionSchema = z.object({
  reaction: z.string(),
  user: z.string().regex(SLACK_USER_ID),
  item: z.object({ type: z.string(), channel: z.string().min(1).optional(), ts: z.string().min(1).optional() }),
});

const MessageSchema = z.object({
  ts: z.string(),
  text: z.string().optional(),
  user: z.string().optional(),
  bot_id: z.string().optional(),
  files: z.array(z.object({ name: z.string().optional() })).optional(),
});
type SlackMessage = z.infer<typeof MessageSchema>;

/** The message at `ts`: channel history first, then the thread it may be a reply in. */
export async function fetchMessage(client: WebClient, channel: string, ts: string): Promise<SlackMessage | undefined> {
  const pick = (messages: unknown[] | undefined): SlackMessage | undefined =>
    (messages ?? []).map((m) => MessageSchema.safeParse(m)).find((r) => r.success && r.data.ts === ts)?.data;
  const history = await client.conversations.history({ channel, latest: ts, inclusive: true, limit: 1 });
  const inChannel = pick(history.messages);
  if (inChannel) return inChannel;
  // Thread replies are not in the channel's history; `oldest` keeps the reply in the first page.
  const thread = await client.conversations.replies({ channel, ts, oldest: ts, inclusive: true, limit: 2 });
  return pick(thread.messages);
}

function noteText(message: SlackMessage): string {
  const files = (message.files ?? []).map((f) => f.name).filter((n): n is string => Boolean(n));
  const text = decodeSlackText(message.text ?? '').trim() || (files.length > 0 ? `[file: ${files.join(', ')}]` : '[a message without text]');
  return text.length <= TEXT_MAX ? text : `${text.slice(0, TEXT_MAX - 1)}…`;
}

export function registerReactionListeners(bolt: BoltApp, deps: ListenerDeps): void {
  const { app, client, directory, logger } = deps;
  /** The last look and the note run one pin at a time, so two pins of one message cannot both land. */
  let recording: Promise<unknown> = Promise.resolve();
  const oneAtATime = <T>(work: () => Promise<T>): Promise<T> => {
    const next = recording.then(work);
    recording = next.catch(() => undefined);
    return next;
  };

  bolt.event('reaction_added', async ({ event }) => {
    const parsed = ReactionSchema.safeParse(event);
    if (!parsed.success) return;
    const { reaction, user, item } = parsed.data;
    if (reaction !== PIN_REACTION || item.type !== 'message' || !item.channel || !item.ts) return;
    const { channel, ts } = item;
    if (!(await app.incidents.byChannel(channel))) return;
    const groups = directory.cached(user) ?? (await directory.groupsOf(user));
    // Being in a private incident's channel is not membership: to a non-member it is any channel.
    const incident = await app.visibility.byChannel({ actor: slackActor(user, groups), channelId: channel }, channel);
    if (!incident || (await app.pins.isPinned(incident.id, ts))) return;

    const log = logger.child({ incidentId: incident.id, channel, messageTs: ts });
    let message: SlackMessage | undefined;
    let permalink: string | null = null;
    try {
      message = await fetchMessage(client, channel, ts);
      permalink = (await client.chat.getPermalink({ channel, message_ts: ts }).catch(() => undefined))?.permalink ?? null;
    } catch (err) {
      log.warn({ err }, 'could not read the pinned message from Slack');
      return;
    }
    if (!message) {
      log.warn('the pinned message was not found');
      return;
    }

    const actor = slackActor(user, groups);
    try {
      // From the second look to the note no other pin runs, so two pins of one message cannot both land.
      const pinned = message;
      await oneAtATime(async () => {
        if (await app.pins.isPinned(incident.id, ts)) return;
        const authorization = await app.access.require(actor, 'slack', { action: 'incident.note', channel, incidentId: incident.id });
        await app.incidents.note({ actor, source: 'slack', ...(authorization ? { authorization } : {}) }, incident.id, noteText(pinned), {
          author: pinned.user ?? pinned.bot_id ?? 'unknown',
          permalink,
          messageTs: ts,
        });
      });
    } catch (err) {
      const text = errorReply(err, log);
      await client.chat.postEphemeral({ channel, user, text }).catch((e: unknown) => log.warn({ err: e }, 'could not tell the user why the pin was not recorded'));
    } finally {
      deps.kick();
    }
  });
}
