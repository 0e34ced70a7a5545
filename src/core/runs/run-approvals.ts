// Approvals: approve and deny a waiting run, each decided again against the policy, groups and files in force.
import { ConflictError, NotAllowedError } from '../../errors.js';
import type { Decision } from '../policy/policy-engine.js';
import { recordDecision, subjectOf } from '../policy-access.js';
import { joinRich, rich, userRef } from '../rich-text.js';
import type { Run } from './run.js';
import type { CatalogView, Requester, RunContext } from './run-context.js';

export interface ApproveResult {
  run: Run;
  approvals: number;
  needed: number;
  done: Promise<Run> | null;
}

export function createRunApprovals(ctx: RunContext, startExecution: (id: string) => Promise<Run>) {
  const { deps } = ctx;
  const { uow, runs, clock } = deps;

  /**
   * The groups of earlier approvers as the group directory says now, by user; an Error when the
   * directory could not tell. Without a directory (local mode) no groups are known: only roles given
   * to the user by id still count.
   */
  async function approverGroupsNow(userIds: string[]): Promise<Map<string, string[] | Error>> {
    const settled = await Promise.allSettled(userIds.map(async (userId) => (await deps.currentGroups?.(userId)) ?? []));
    return new Map(
      userIds.map((userId, i) => {
        const r = settled[i]!;
        return [userId, r.status === 'fulfilled' ? r.value : new Error(r.reason instanceof Error ? r.reason.message : String(r.reason))];
      }),
    );
  }

  /** Why an earlier approver of `run` may no longer approve it under `view`, if they may not. */
  function approverRefusal(view: CatalogView, run: Run, approver: string, groups: string[] | Error | undefined): string | undefined {
    if (groups === undefined || groups instanceof Error) return `their groups could not be read${groups ? ` (${groups.message})` : ''}`;
    const check = ctx.mayApprove(view, run, { userId: approver, groups });
    return check.allowed ? undefined : check.reason;
  }

  /** Records a refused approval through the one decision recorder, as every other refusal is. */
  async function recordRefusal(by: Requester, run: Run, view: CatalogView, refusal: Pick<Decision, 'matched' | 'roles' | 'reason'>): Promise<void> {
    const decision: Decision = { effect: 'deny', matched: refusal.matched, roles: refusal.roles, reason: refusal.reason };
    const request = {
      subject: subjectOf(by.actor),
      action: 'approve',
      procedure: run.procedure,
      environment: run.environment,
      ...(run.channel ? { channel: run.channel } : {}),
    };
    await recordDecision(deps, by, request, decision, view.policyHash, run.incidentId, { run: run.id });
  }

  return {
    async approve(by: Requester, id: string): Promise<ApproveResult> {
      // Read before the transaction, which cannot wait for the group directory.
      const requester = await ctx.requesterNow(await ctx.load(id));
      const earlierApprovers = async (): Promise<string[]> =>
        (await runs.approvals(id)).filter((a) => a.decision === 'approve' && a.approver !== by.actor.id).map((a) => a.approver);
      let earlierGroups = await approverGroupsNow(await earlierApprovers());
      // An approval that lands while the groups are read is read too (a few times), rather than left uncounted.
      for (let attempt = 1; attempt < 3 && (await earlierApprovers()).some((a) => !earlierGroups.has(a)); attempt += 1) {
        earlierGroups = await approverGroupsNow(await earlierApprovers());
      }
      // An approval that lands while the groups are read, or between that read and this transaction,
      // is read too (a few times), rather than left uncounted.
      const decideOnce = (lastTry: boolean) =>
        uow.transaction(async () => {
          const run = await ctx.load(id);
          if (run.state !== 'pending_approval') throw new ConflictError(`${run.id} is ${run.state}; only runs waiting for approval can be approved`);
          const view = deps.catalog();
          if (run.requestedBy === by.actor.id) {
            // Recorded like any refusal (it shows among the postmortem's denied attempts), then refused.
            await recordRefusal(by, run, view, { matched: [], roles: [], reason: 'the requester never approves their own run' });
            return { selfApproval: true as const, run };
          }
          const now = clock.now();
          if (run.approvalExpiresAt !== null && now > run.approvalExpiresAt) {
            await ctx.endPending(
              run,
              'system',
              'denied',
              'run.approval_expired',
              `the approval window closed at ${new Date(run.approvalExpiresAt).toISOString()}; request it again`,
            );
            return { expired: true as const, run };
          }
          const approver = ctx.mayApprove(view, run, subjectOf(by.actor));
          if (!approver.allowed) {
            await recordRefusal(by, run, view, approver);
            return { refused: approver.reason, run };
          }
          const previous = await runs.approvals(run.id);
          if (previous.some((a) => a.approver === by.actor.id)) throw new ConflictError(`you already approved ${run.id}`);
          const counted = (a: { decision: string; binding: string; approver: string }): boolean =>
            a.decision === 'approve' && a.binding === run.binding && a.approver !== run.requestedBy;
          if (!lastTry && previous.filter(counted).some((a) => !earlierGroups.has(a.approver))) return { unread: true as const, run };
          // An earlier approval counts only while its approver may still approve under the policy and
          // groups in force: a policy edit or a group change takes back approvals not yet acted on.
          const notCounted: Array<{ approver: string; reason: string }> = [];
          const standing = previous.filter(counted).filter((a) => {
            const reason = approverRefusal(view, run, a.approver, earlierGroups.get(a.approver));
            if (reason !== undefined) notCounted.push({ approver: a.approver, reason });
            return reason === undefined;
          });
          const needed = run.approval?.count ?? 1;
          const complete = standing.length + 1 >= needed;
          // Every approval, the last one above all, decides the requester again against the policy and
          // groups in force and checks the binding: an approval never revives what the policy now refuses.
          const problem = ctx.voidReason(view, run, requester);
          if (problem) {
            await ctx.voidPending(run, problem);
            return { voided: problem.reason, run };
          }
          await runs.addApproval({ runId: run.id, approver: by.actor.id, decision: 'approve', at: now, binding: run.binding, reason: null });
          const approvals = standing.length + 1;
          if (complete) {
            await ctx.holdLease(run, clock.now());
            run.state = 'queued';
            run.ownerPid = deps.pid;
            await runs.save(run);
          }
          const seq = await ctx.append(by, run, 'run.approved', {
            binding: run.binding,
            approvals,
            needed,
            complete,
            authorized: { policy_hash: view.policyHash, rules: [approver.reason] },
            ...(notCounted.length > 0 ? { not_counted: notCounted } : {}),
          });
          const dropped = joinRich(notCounted.map((n) => rich`; ${userRef(n.approver)}'s approval no longer counts: ${n.reason}`));
          await ctx.post(run, seq, {
            kind: 'run.approved',
            text: rich`👍 ${userRef(by.actor.id)} approved ${run.id} (${approvals}/${needed})${complete ? '; starting' : ''}${dropped}`,
            data: { runId: run.id },
          });
          return { run, approvals, needed, complete };
        });
      let result = await decideOnce(false);
      for (let attempt = 1; 'unread' in result; attempt += 1) {
        earlierGroups = await approverGroupsNow(await earlierApprovers());
        result = await decideOnce(attempt >= 3);
      }
      deps.onMessages?.();
      if ('selfApproval' in result) throw new NotAllowedError(`you requested ${id}; someone else must approve it`);
      if ('expired' in result) throw new ConflictError(`${id} expired: its approval window closed; request it again`);
      if ('voided' in result) throw new ConflictError(`${id} is void: ${result.voided}`);
      if ('refused' in result) throw new NotAllowedError(`you may not approve ${id}: ${result.refused}`);
      return { run: result.run, approvals: result.approvals, needed: result.needed, done: result.complete ? startExecution(id) : null };
    },

    async deny(by: Requester, id: string, reason: string): Promise<Run> {
      const outcome = await uow.transaction(async () => {
        const run = await ctx.load(id);
        if (run.state !== 'pending_approval') throw new ConflictError(`${run.id} is ${run.state}; only runs waiting for approval can be denied`);
        const isRequester = run.requestedBy === by.actor.id;
        const approver = ctx.mayApprove(deps.catalog(), run, subjectOf(by.actor));
        if (!isRequester && !approver.allowed) return { refused: approver.reason };
        await runs.addApproval({ runId: run.id, approver: by.actor.id, decision: 'deny', at: clock.now(), binding: run.binding, reason: reason || null });
        await ctx.endPending(run, by, 'denied', 'run.denied', `denied by <@${by.actor.id}>${reason ? `: ${reason}` : ''}`);
        return { run };
      });
      deps.onMessages?.();
      if ('refused' in outcome) throw new NotAllowedError(`you may not deny ${id}: ${outcome.refused}`);
      return outcome.run;
    },
  };
}
