// Claims of scheduled ticks on PostgreSQL: the first replica to insert (task, slot) runs that tick.
import type { Pool } from './pool.js';

/** Claims older than this are removed as new ones are taken: a tick is never claimed again once past. */
const KEEP_MS = 7 * 86_400_000;

/**
 * `claim(task, slot)` for `startReplicaScheduler`: true when this replica inserted the claim, false when
 * another replica holds it. Each claim commits on its own (never inside a caller's transaction), before
 * the tick's work starts, so a replica that waits on it sees the winner's row and skips.
 */
export function postgresTickClaim(pool: Pool, replicaId: string): (task: string, slot: number) => Promise<boolean> {
  return async (task, slot) => {
    const inserted = await pool.query(
      `INSERT INTO schedule_claims (task, slot, replica_id, claimed_at)
       VALUES ($1, $2, $3, (extract(epoch from clock_timestamp()) * 1000)::bigint)
       ON CONFLICT (task, slot) DO NOTHING`,
      [task, slot, replicaId],
    );
    if (inserted.rowCount !== 1) return false;
    await pool.query('DELETE FROM schedule_claims WHERE task = $1 AND slot < $2', [task, slot - KEEP_MS]);
    return true;
  };
}
