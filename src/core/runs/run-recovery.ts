// Recovery and expiry: runs left behind by a dead process, waiting runs the catalog in force refuses, and closed approval windows.
import type { Run } from './run.js';
import type { RunContext, Void } from './run-context.js';

/** How runs come to be interrupted, and what may be done about the processes they left behind. */
export interface Interruption {
  /** Their process groups can be killed from here: the process that ran them is gone, and its process IDs mean the same here. */
  killLeftovers: boolean;
  /** The replica that executed them and stopped beating (on PostgreSQL); absent: this host's previous edgeops process. */
  replica?: { id: string; host: string; pid: number };
}

/** What the run's channel is told: what stopped, and whether anything of the run may still be running. */
function interruptedText(run: Run, how: Interruption, leftover: number | null, killed: number | null): string {
  const host = how.replica?.host;
  const what = host === undefined ? 'edgeops stopped mid-run' : `the edgeops replica on ${host} executing it stopped answering`;
  const head = `⚠ ${run.id} ${run.procedure} (${run.environment}) was interrupted: ${what}.`;
  const rerun = 'it will not re-run by itself';
  if (leftover !== null && killed === null) {
    return `${head} Its last step (process group ${leftover}) may still be running${host === undefined ? '' : ` on ${host}`}; ${rerun} — check ${host === undefined ? 'the system' : 'there'}, then run it again if needed.`;
  }
  const state = killed !== null || host === undefined ? 'Its leftover processes were stopped' : 'It had no step process on record';
  return `${head} ${state}; ${rerun} — check the system, then run it again if needed.`;
}

export function createRunRecovery(ctx: RunContext) {
  const { deps, active } = ctx;
  const { uow, runs, clock } = deps;

  /**
   * Marks one run interrupted in one transaction: its audit row, its lease freed, its channel told. A
   * run that has ended meanwhile, or that this process executes, is left as it is.
   */
  async function interrupt(id: string, how: Interruption): Promise<Run | undefined> {
    return uow.transaction(async () => {
      const current = await ctx.load(id);
      if ((current.state !== 'running' && current.state !== 'queued') || active.has(current.id)) return undefined;
      const leftover = current.pgid;
      const killed = leftover !== null && how.killLeftovers ? leftover : null;
      if (killed !== null) deps.killGroup(killed);
      const replica = how.replica;
      current.state = 'interrupted';
      current.error = replica
        ? `the edgeops replica on ${replica.host} executing this run stopped (no heartbeat); it will not be re-run by itself`
        : 'edgeops stopped while this run was in progress; it will not be re-run by itself';
      current.finishedAt = clock.now();
      current.pgid = null;
      await runs.save(current);
      await runs.releaseLease(current.concurrencyKey, current.id);
      const seq = await ctx.append('system', current, 'run.interrupted', {
        killed_process_group: killed,
        previous_owner_pid: current.ownerPid,
        error: current.error,
        finished_at: current.finishedAt,
        ...(replica
          ? { replica: replica.id, replica_host: replica.host, replica_pid: replica.pid, leftover_process_group: killed === null ? leftover : null }
          : {}),
      });
      await ctx.post(current, seq, {
        kind: 'run.interrupted',
        text: interruptedText(current, how, leftover, killed),
        data: { runId: current.id },
      });
      await deps.onFinished?.(current, await runs.steps(current.id), seq);
      return current;
    });
  }

  return {
    /** Runs left running or queued by a dead edgeops process: interrupted, never re-run by themselves. */
    async recoverInterrupted(): Promise<Run[]> {
      const recovered: Run[] = [];
      for (const run of await runs.active()) {
        if (run.ownerPid !== null && run.ownerPid !== deps.pid && deps.isAlive(run.ownerPid)) continue;
        const done = await interrupt(run.id, { killLeftovers: true });
        if (done) recovered.push(done);
      }
      if (recovered.length > 0) deps.onMessages?.();
      return recovered;
    },

    /**
     * The runs `ids` of a replica that stopped beating, or that no live replica owns (the caller found
     * them): each still queued or running is interrupted as a restart would (audit row, lease freed,
     * channel told), never re-run. Its leftover process group is killed only when
     * `reason.killLeftovers`; otherwise the channel is told its last step may still be running.
     */
    async interruptRuns(ids: readonly string[], reason: Interruption): Promise<Run[]> {
      const interrupted: Run[] = [];
      for (const id of ids) {
        const done = await interrupt(id, reason);
        if (done) interrupted.push(done);
      }
      if (interrupted.length > 0) deps.onMessages?.();
      return interrupted;
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
