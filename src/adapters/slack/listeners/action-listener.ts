// Approve / Deny buttons on approval requests: the clicker approves or denies the run, as if typed.
import type { App as BoltApp, BlockAction, RespondFn, SlackActionMiddlewareArgs } from '@slack/bolt';
import { z } from 'zod';
import type { By } from '../../../core/ports.js';
import { errorReply, replyLater } from './reply.js';
import { SLACK_USER_ID, slackActor, type ListenerDeps } from './listener-deps.js';

/** The action IDs of the buttons rendered on approval requests; their `value` is the run id. */
export const APPROVE_ACTION_ID = 'run_approve';
export const DENY_ACTION_ID = 'run_deny';

const ClickSchema = z.object({
  user: z.object({ id: z.string().regex(SLACK_USER_ID) }),
  channel: z.object({ id: z.string().min(1) }).optional(),
  action: z.object({
    action_id: z.enum([APPROVE_ACTION_ID, DENY_ACTION_ID]),
    value: z.string().regex(/^R-\d+$/),
  }),
});

export function registerActionListeners(bolt: BoltApp, deps: ListenerDeps): void {
  const { app, directory, logger } = deps;

  async function decide(by: By, channel: string | null, actionId: string, runId: string): Promise<string> {
    try {
      // A run in a private incident the clicker may not see is answered as missing, as typed commands are.
      await app.visibility.run({ actor: by.actor, channelId: channel }, await app.runs.get(runId));
      if (actionId === APPROVE_ACTION_ID) {
        const r = await app.runs.approve(by, runId);
        return r.done ? `Approved ${r.run.id}; it is starting.` : `Approved ${r.run.id} (${r.approvals}/${r.needed}); it needs more approvals.`;
      }
      const run = await app.runs.deny(by, runId, '');
      return `Denied ${run.id}.`;
    } catch (err) {
      return errorReply(err, logger.child({ action: actionId, runId, user: by.actor.id }));
    } finally {
      deps.kick();
    }
  }

  const onClick = async ({ ack, body, action, respond }: SlackActionMiddlewareArgs<BlockAction>): Promise<void> => {
    // Button payloads carry no reply in their ack; the answer follows through response_url.
    await ack();
    const click = ClickSchema.safeParse({ user: body.user, channel: body.channel, action });
    if (!click.success) {
      logger.warn({ issues: click.error.issues.map((i) => i.path.join('.')) }, 'button payload not understood');
      return;
    }
    const { user, channel, action: button } = click.data;
    // The policy is checked again in the run service, with the clicker's groups, not the requester's.
    const groups = directory.cached(user.id) ?? (await directory.groupsOf(user.id));
    const text = await decide({ actor: slackActor(user.id, groups), source: 'slack' }, channel?.id ?? null, button.action_id, button.value);
    const target: { respond?: RespondFn } = body.response_url ? { respond } : {};
    await replyLater({ ...target, client: deps.client, channel: channel?.id ?? user.id, user: user.id }, text, logger);
  };

  bolt.action<BlockAction>({ type: 'block_actions', action_id: APPROVE_ACTION_ID }, onClick);
  bolt.action<BlockAction>({ type: 'block_actions', action_id: DENY_ACTION_ID }, onClick);
}
