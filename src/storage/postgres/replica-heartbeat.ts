// A replica's heartbeat on PostgreSQL, and the reaper that interrupts the runs of replicas whose heartbeat stopped.
import { randomUUID } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import os from 'node:os';
import type { Run } from '../../core/runs/run.js';
import type { Interruption } from '../../core/runs/run-service.js';
import type { PostgresUnitOfWork } from './postgres-unit-of-work.js';

/** The database's clock in UTC milliseconds: every replica judges heartbeats by it, whatever its own host's clock says. */
const DB_NOW = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

export interface ReplicaIdentity {
  /** New at each start, so a restarted process is a new replica (pids are reused). */
  id: string;
  host: string;
  pid: number;
  /**
   * Which processes share this one's process IDs: the boot and the PID namespace. Only a replica in the
   * same one may kill the process groups a dead replica left behind; null (unknown) never kills.
   */
  processSpace: string | null;
}

/** The boot and PID namespace this process runs in (Linux), or null where that cannot be read. */
export function processSpace(): string | null {
  try {
    return `${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()}/${readlinkSync('/proc/self/ns/pid')}`;
  } catch {
    return null;
  }
}

/** This process as a replica. */
export const thisReplica = (): ReplicaIdentity => ({ id: randomUUID(), host: os.hostname(), pid: process.pid, processSpace: processSpace() });

/** What one reap did: a dead replica's runs, or (replica null) runs that no live replica owns. */
export interface Reaped {
  replica: { id: string; host: string; pid: number } | null;
  runs: Run[];
}

export interface ReplicaHeartbeatOptions {
  /** The unit of work the run service writes through, so that a reap is one transaction with the interruptions. */
  session: PostgresUnitOfWork;
  replica: ReplicaIdentity;
  /** How often this replica beats and looks for dead ones (default 5 s). */
  heartbeatMs?: number;
  /** A replica silent for longer is dead (default 30 s); keep it well above the longest pause a live process may have. */
  timeoutMs?: number;
  /** The run service's `interruptRuns`. */
  interruptRuns: (ids: readonly string[], reason: Interruption) => Promise<Run[]>;
  /** Whether a process of this host lives (a dead replica's process groups are killed only once it is gone). */
  isAlive: (pid: number) => boolean;
  /** Told after each reap commits that interrupted runs (the root logs them and wakes the senders). */
  onReaped?: (reaped: Reaped) => void;
  /** Told when this replica found its row gone: others took it for dead and interrupted the runs it owned. */
  onRevived?: () => void;
  /** Errors of the background beat (the next beat tries again). */
  onError?: (err: unknown) => void;
}

interface ReplicaRow {
  id: string;
  host: string;
  pid: number;
  process_space: string | null;
}

/**
 * Registers this replica, beats every `heartbeatMs`, and at every beat reaps: each replica silent for
 * longer than `timeoutMs` has its queued and running runs interrupted (never re-run) and its row
 * removed, and runs that no live replica owns (copied from SQLite, or of a replica already removed)
 * are interrupted too. Exactly one replica reaps a dead one: the reap locks the dead replica's row
 * (`FOR UPDATE SKIP LOCKED`), and a concurrent reaper passes over it; once it commits, the row is gone.
 */
export class ReplicaHeartbeat {
  private readonly heartbeatMs: number;
  private readonly timeoutMs: number;
  private timer: NodeJS.Timeout | undefined;
  private tick: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: ReplicaHeartbeatOptions) {
    this.heartbeatMs = options.heartbeatMs ?? 5_000;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  get id(): string {
    return this.options.replica.id;
  }

  /** Registers the replica and reaps once before returning (the start-up recovery on PostgreSQL); then beats in the background. */
  async start(): Promise<Reaped[]> {
    await this.register();
    const reaped = await this.reap();
    this.schedule();
    return reaped;
  }

  /** Stops beating. The row is removed when this replica owns no queued or running run; otherwise others reap it after the timeout. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.tick;
    const { id } = this.options.replica;
    await this.options.session
      .current()
      .query(`DELETE FROM replicas WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM runs WHERE replica_id = $1 AND state IN ('queued', 'running'))`, [id]);
  }

  /** Records that this replica lives now; re-registers it if others took it for dead. */
  async beat(): Promise<void> {
    const result = await this.options.session.current().query(`UPDATE replicas SET heartbeat_at = ${DB_NOW} WHERE id = $1`, [this.options.replica.id]);
    if (result.rowCount === 0) {
      await this.register();
      this.options.onRevived?.();
    }
  }

  /** Interrupts the runs of every dead replica no other reaper holds, and of runs no live replica owns; returns what it did. */
  async reap(): Promise<Reaped[]> {
    const { session, replica: me, isAlive } = this.options;
    const reaped = await session.transaction(async (): Promise<Reaped[]> => {
      const db = session.current();
      const done: Reaped[] = [];
      const dead = await db.query<ReplicaRow>(
        `SELECT id, host, pid, process_space FROM replicas WHERE id <> $1 AND heartbeat_at < ${DB_NOW} - $2
         ORDER BY started_at FOR UPDATE SKIP LOCKED`,
        [me.id, this.timeoutMs],
      );
      for (const row of dead.rows) {
        const ids = await db.query<{ id: string }>(`SELECT id FROM runs WHERE replica_id = $1 AND state IN ('queued', 'running') ORDER BY number`, [
          row.id,
        ]);
        const replica = { id: row.id, host: row.host, pid: row.pid };
        // Its process IDs mean the same here only in the same boot and PID namespace; and its groups are left alone while it lives.
        const killLeftovers = row.process_space !== null && row.process_space === me.processSpace && !isAlive(row.pid);
        const runs = await this.options.interruptRuns(
          ids.rows.map((r) => r.id),
          { replica, killLeftovers },
        );
        await db.query('DELETE FROM replicas WHERE id = $1', [row.id]);
        done.push({ replica, runs });
      }
      // Locked one by one and passed over when another reaper holds them, as the replicas' rows are.
      const orphans = await db.query<{ id: string }>(
        `SELECT r.id FROM runs r WHERE r.state IN ('queued', 'running')
           AND (r.replica_id IS NULL OR NOT EXISTS (SELECT 1 FROM replicas p WHERE p.id = r.replica_id))
         ORDER BY r.number FOR UPDATE OF r SKIP LOCKED`,
      );
      if (orphans.rows.length > 0) {
        const runs = await this.options.interruptRuns(
          orphans.rows.map((r) => r.id),
          { killLeftovers: false },
        );
        if (runs.length > 0) done.push({ replica: null, runs });
      }
      return done;
    });
    for (const r of reaped) this.options.onReaped?.(r);
    return reaped;
  }

  private async register(): Promise<void> {
    const { id, host, pid, processSpace: space } = this.options.replica;
    await this.options.session.current().query(
      `INSERT INTO replicas (id, host, pid, process_space, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, ${DB_NOW}, ${DB_NOW})
       ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`,
      [id, host, pid, space],
    );
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.tick = this.beat()
        .then(() => this.reap())
        .then(
          () => undefined,
          (err: unknown) => this.options.onError?.(err),
        )
        .finally(() => this.schedule());
    }, this.heartbeatMs);
    this.timer.unref();
  }
}
