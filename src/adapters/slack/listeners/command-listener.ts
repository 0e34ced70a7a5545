// `/incident`, `/runbook` and `/oncall`: map the slash payload to `app.handle`, answer ephemerally.
import type { App as BoltApp, RespondFn } from '@slack/bolt';
import { z } from 'zod';
import type { CommandContext } from '../../../core/commands/command-context.js';
import { UnavailableError } from '../../../errors.js';
import { errorReply, replyLater } from './reply.js';
import { slackSource } from '../slack-mrkdwn.js';
import { SLACK_USER_ID, slackActor, type ListenerDeps } from './listener-deps.js';
import { decodeSlackText } from './slack-text.js';

/** The core answers from the database in milliseconds; past this, the answer goes through response_url. */
export const ACK_BUDGET_MS = 1_500;

/** The slash commands edgeops answers (the manifest declares the same). */
export const SLASH_COMMANDS = ['/incident', '/runbook', '/oncall'] as const;
/** Commands whose answer is another service's (PagerDuty's): acknowledged at once, answered when it comes. */
const ANSWERED_BY_APIS = new Set<string>(['/oncall']);
/**
 * Commands whose whole effect is rows (timeline, incident, outbox), so their commits may leave the disk
 * sync to just before the answer, shared with the commands answered alongside. Not `/runbook`: a run
 * starts processes, which must never act on rows a power cut could still take back.
 */
const ONLY_WRITES_ROWS = new Set<string>(['/incident']);

const SlashPayloadSchema = z.object({
  command: z.string().regex(/^\/[a-z0-9_-]+$/),
  text: z.string().default('').transform(decodeSlackText),
  user_id: z.string().regex(SLACK_USER_ID),
  channel_id: z.string().min(1),
  response_url: z.url().optional(),
});
type SlashPayload = z.infer<typeof SlashPayloadSchema>;

type Outcome<T> = { ready: true; value: T } | { ready: false; later: Promise<T> };

/** Waits for `work` at most `ms`; either way the work itself carries on. */
async function within<T>(work: Promise<T>, ms: number): Promise<Outcome<T>> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), ms);
    timer.unref();
  });
  const first = await Promise.race([work.then((value) => ({ value })), late]);
  clearTimeout(timer);
  return first === 'late' ? { ready: false, later: work } : { ready: true, value: first.value };
}

export function registerCommandListeners(bolt: BoltApp, deps: ListenerDeps): void {
  const { app, directory, logger } = deps;
  const budget = deps.ackBudgetMs ?? ACK_BUDGET_MS;

  /**
   * The answer text, given only once what the command wrote is on disk; domain errors become their
   * reply here, so this never rejects. A command that only writes rows shares that disk sync with
   * the commands answered alongside it, and the sync runs off the event loop (see `CommandWrites` in src/app-ports.ts).
   */
  async function answer(payload: SlashPayload, groups: string[]): Promise<string> {
    const ctx: CommandContext = { actor: slackActor(payload.user_id, groups), source: 'slack', channelId: payload.channel_id };
    const handle = () => app.handle(ctx, payload.command, payload.text);
    const deferred = ONLY_WRITES_ROWS.has(payload.command);
    let text: string;
    try {
      text = slackSource((await (deferred ? app.commandWrites.defer(handle) : handle())).text);
    } catch (err) {
      text = errorReply(err, logger.child({ command: payload.command, user: payload.user_id }));
    }
    if (deferred) {
      try {
        await app.commandWrites.durable();
      } catch (err) {
        logger.error({ err, command: payload.command, user: payload.user_id }, 'could not sync the database to disk');
        text = errorReply(new UnavailableError('edgeops could not confirm this was saved to disk'), logger);
      }
    }
    // Whatever the command queued (or nothing) — the sender looks at the outbox either way.
    deps.kick();
    return text;
  }

  const late = (payload: SlashPayload, respond: RespondFn, text: string): Promise<void> =>
    replyLater({ respond: payload.response_url ? respond : undefined, client: deps.client, channel: payload.channel_id, user: payload.user_id }, text, logger);

  for (const name of SLASH_COMMANDS) {
    bolt.command(name, async ({ command, ack, respond }) => {
      const parsed = SlashPayloadSchema.safeParse(command);
      if (!parsed.success) {
        logger.warn({ issues: parsed.error.issues.map((i) => i.path.join('.')) }, 'slash command payload not understood');
        await ack({ response_type: 'ephemeral', text: '✗ edgeops could not read this command from Slack; nothing was done.' });
        return;
      }
      const payload = parsed.data;
      const groups = directory.cached(payload.user_id);
      if (groups === undefined || ANSWERED_BY_APIS.has(payload.command)) {
        // The answer needs a call to Slack (the user's groups) or to another service: acknowledge now.
        await ack();
        await late(payload, respond, await answer(payload, groups ?? (await directory.groupsOf(payload.user_id))));
        return;
      }
      const outcome = await within(answer(payload, groups), budget);
      if (outcome.ready) {
        await ack({ response_type: 'ephemeral', text: outcome.value });
        return;
      }
      await ack();
      await late(payload, respond, await outcome.later);
    });
  }
}
