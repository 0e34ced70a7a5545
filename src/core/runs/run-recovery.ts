// Recovery and expiry: runs left behind by a dead process, waiting runs the catalog in force refuses, and closed approval windows.
import type { Run } from './run.js';
import type { RunContext, Void } from './run-context.js';

export function createRunRecovery(ctx: RunContext) {
  const { deps, active } = ctx;
  const { uow, runs, clock } = deps;

  return {
    /** Runs left running or queued by a dead edgeops process: interrupted, never re-run by themselves. */
    async recoverInterrupted(): Promise<Run[]> {
      const recovered: Run[] = [];
      for (const run of await runs.active()) {
        if (run.ownerPid !== null && run.ownerPid !== deps.pid && deps.isAlive(run.ownerPid)) continue;
        if (active.has(run.id)) continue;
        if (run.pgid !== null) deps.killGroup(run.pgid);
        await uow.transaction(async () => {
          const current = await ctx.load(run.id);
          const killed = current.pgid;
          current.state = 'interrupted';
          current.error = 'edgeops stopped while this run was in progress; it will not be re-run by itself';
          current.finishedAt = clock.now();
          current.pgid = null;
          await runs.save(current);
          await runs.releaseLease(current.concurrencyKey, current.id);
          const seq = await ctx.append('system', current, 'run.interrupted', {
            killed_process_group: killed,
            previous_owner_pid: run.ownerPid,
            error: current.error,
            finished_at: current.finishedAt,
          });
          await ctx.post(current, seq, {
            kind: 'run.interrupted',
            text: `⚠ ${current.id} ${current.procedure} (${current.environment}) was interrupted: edgeops stopped mid-run. Its leftover processes were stopped; it will not re-run by itself — check the system, then run it again if needed.`,
            data: { runId: current.id },
          });
          await deps.onFinished?.(current, await runs.steps(current.id), seq);
          recovered.push(current);
        });
      }
      if (recovered.length > 0) deps.onMessages?.();
      return recovered;
    },

    /**
     * After a reload of policies and procedures: every run waiting for approval that the catalog in
     * force would no longer let go ahead is denied, the reason recorded and its requester told.
     */
    async revalidateWaiting(): Promise<Run[]> {
      const waiting = await runs.pendingApproval();
      // One requester the group directory cannot answer for must not spare the others their check.
      const subjects = await Promise.allSettled(waiting.map((run) => ctx.requesterNow(run)));
      const view = deps.catalog();
      const voided: Run[] = [];
      const voidIf = async (id: string, problemOf: (current: Run) => Void | undefined): Promise<void> => {
        await uow.transaction(async () => {
          const current = await ctx.load(id);
          if (current.state !== 'pending_approval') return;
          const problem = problemOf(current);
          if (!problem) return;
          await ctx.voidPending(current, problem);
          voided.push(current);
        });
      };
      for (const [i, run] of waiting.entries()) {
        const subject = subjects[i]!;
        try {
          await voidIf(run.id, (current) =>
            subject.status === 'fulfilled' ? ctx.voidReason(view, current, subject.value) : ctx.uncheckable(current, subject.reason),
          );
        } catch (err) {
          // A run that cannot be checked is not left to be approved under a catalog it may break: fail closed.
          try {
            await voidIf(run.id, (current) => ctx.uncheckable(current, err));
          } catch (again) {
            deps.onError?.(again, run.id);
          }
        }
      }
      if (voided.length > 0) deps.onMessages?.();
      return voided;
    },

    /** Ends runs whose approval window has closed (the scheduler calls this; approve checks too). */
    async expireApprovals(): Promise<Run[]> {
      const now = clock.now();
      const expired: Run[] = [];
      for (const run of await runs.pendingApproval()) {
        if (run.approvalExpiresAt === null || now <= run.approvalExpiresAt) continue;
        await uow.transaction(async () => {
          const current = await ctx.load(run.id);
          if (current.state !== 'pending_approval') return;
          await ctx.endPending(
            current,
            'system',
            'denied',
            'run.approval_expired',
            `no approval before ${new Date(run.approvalExpiresAt!).toISOString()}; request it again`,
          );
          expired.push(current);
        });
      }
      if (expired.length > 0) deps.onMessages?.();
      return expired;
    },
  };
}
