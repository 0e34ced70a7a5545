// PostgreSQL channel leases (outbox_channel_leases): which replica delivers which outbox channel.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { ChannelLeases } from '../../core/outbox/channel-leases.js';
import type { OutboxTarget } from '../../core/outbox/outbox.js';
import type { PostgresUnitOfWork } from './postgres-unit-of-work.js';

/** A holder name for this process: the host and pid say which replica it is in logs, the suffix keeps a restarted pid apart. */
export const leaseHolderId = (): string => `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;

/**
 * Taking is one INSERT … ON CONFLICT DO UPDATE … WHERE: PostgreSQL locks the row of each channel it
 * updates, so of two replicas taking one channel at once the second sees the first's lease and gets
 * nothing. Channels go in sorted, so two replicas taking overlapping sets lock rows in one order.
 */
const TAKE = `INSERT INTO outbox_channel_leases AS l (target, channel, holder, held_until)
  SELECT $1, c, $2, $4 FROM unnest($3::text[]) AS c
  ON CONFLICT (target, channel) DO UPDATE SET holder = EXCLUDED.holder, held_until = EXCLUDED.held_until
  WHERE l.holder = EXCLUDED.holder OR l.held_until <= $5
  RETURNING channel`;

export class PostgresChannelLeases implements ChannelLeases {
  constructor(
    private readonly session: PostgresUnitOfWork,
    readonly holder: string,
  ) {}

  private get db() {
    return this.session.current();
  }

  async take(target: OutboxTarget, channels: readonly string[], now: number, until: number): Promise<string[]> {
    if (channels.length === 0) return [];
    const sorted = [...new Set(channels)].sort();
    return (await this.db.query<{ channel: string }>(TAKE, [target, this.holder, sorted, until, now])).rows.map((r) => r.channel);
  }

  async renew(target: OutboxTarget, channels: readonly string[], until: number): Promise<string[]> {
    if (channels.length === 0) return [];
    const { rows } = await this.db.query<{ channel: string }>(
      `UPDATE outbox_channel_leases SET held_until = GREATEST(held_until, $4)
       WHERE target = $1 AND holder = $2 AND channel = ANY($3::text[]) RETURNING channel`,
      [target, this.holder, [...new Set(channels)].sort(), until],
    );
    return rows.map((r) => r.channel);
  }

  async release(target: OutboxTarget, channels: readonly string[], after: number): Promise<void> {
    if (channels.length === 0) return;
    await this.db.query('UPDATE outbox_channel_leases SET held_until = $4 WHERE target = $1 AND holder = $2 AND channel = ANY($3::text[])', [
      target,
      this.holder,
      [...new Set(channels)].sort(),
      after,
    ]);
  }
}
