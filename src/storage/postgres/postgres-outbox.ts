// PostgreSQL implementation of the outbox: the same one-head-per-channel queue as SQLite.
import { messageKeyOf, priorityOf } from '../../core/outbox/delivery-order.js';
import type { ChatMessage, Outbox, OutboxItem, OutboxReceipt, OutboxTarget } from '../../core/outbox/outbox.js';
import type { PostgresUnitOfWork } from './postgres-unit-of-work.js';

interface Row {
  id: number;
  cause_seq: number;
  target: OutboxTarget;
  channel: string;
  body: string;
  attempts: number;
  next_attempt_at: number;
  created_at: number;
  priority: number;
}

const toItem = (r: Row): OutboxItem => ({
  id: r.id,
  causeSeq: r.cause_seq,
  target: r.target,
  channel: r.channel,
  body: JSON.parse(r.body) as ChatMessage,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  createdAt: r.created_at,
  priority: r.priority,
});

/**
 * The head (most urgent class, then oldest pending row) of every channel of a target ($1), skipping
 * from one channel to the next along `outbox_pending` as on SQLite (see sqlite-outbox.ts): a few index
 * seeks per channel however long the backlog behind each head.
 */
const HEADS = `
  WITH RECURSIVE channels (channel) AS (
    SELECT MIN(channel) FROM outbox WHERE state = 'pending' AND target = $1
    UNION ALL
    SELECT (SELECT MIN(channel) FROM outbox WHERE state = 'pending' AND target = $1 AND channel > channels.channel)
    FROM channels WHERE channels.channel IS NOT NULL
  ),
  heads (id) AS (
    SELECT (SELECT id FROM outbox WHERE state = 'pending' AND target = $1 AND channel = channels.channel
            ORDER BY priority, id LIMIT 1)
    FROM channels WHERE channels.channel IS NOT NULL
  )`;

const DUE = `${HEADS}
  SELECT o.* FROM heads h JOIN outbox o ON o.id = h.id
  WHERE o.next_attempt_at <= $2
  ORDER BY o.id LIMIT $3`;
/** The same, leaving out channels another replica ($4) holds: their heads are that replica's to send. */
const DUE_UNLEASED = `${HEADS}
  SELECT o.* FROM heads h JOIN outbox o ON o.id = h.id
  WHERE o.next_attempt_at <= $2
    AND NOT EXISTS (SELECT 1 FROM outbox_channel_leases l
                    WHERE l.target = $1 AND l.channel = o.channel AND l.holder <> $4 AND l.held_until > $2)
  ORDER BY o.id LIMIT $3`;

/** Told on commit of every enqueue, so every replica's dispatcher wakes at once (outbox-notifications.ts). */
export const OUTBOX_CHANNEL = 'edgeops_outbox';
const NEXT = `${HEADS}
  SELECT MIN(o.next_attempt_at) AS at FROM heads h JOIN outbox o ON o.id = h.id
  WHERE o.next_attempt_at > $2`;

/**
 * Commits on PostgreSQL are durable when they return (synchronous_commit on): there is no `durable()` to
 * wait for. Each enqueue notifies OUTBOX_CHANNEL with its target; PostgreSQL delivers the notification
 * when (and only if) the enqueuing transaction commits, so no replica is woken for a message rolled back.
 */
export class PostgresOutbox implements Outbox {
  constructor(
    private readonly session: PostgresUnitOfWork,
    private readonly now: () => number,
  ) {}

  private get db() {
    return this.session.current();
  }

  async enqueue(item: { causeSeq: number; target: OutboxTarget; channel: string; body: ChatMessage | Record<string, unknown> }): Promise<number> {
    const now = this.now();
    const { rows } = await this.db.query<{ id: number }>(
      `INSERT INTO outbox (cause_seq, target, channel, body, next_attempt_at, created_at, priority, message_key)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id, pg_notify('${OUTBOX_CHANNEL}', target)`,
      [
        item.causeSeq,
        item.target,
        item.channel,
        JSON.stringify(item.body),
        now,
        now,
        priorityOf(item.target, item.body),
        messageKeyOf(item.target, item.body),
      ],
    );
    return rows[0]!.id;
  }

  async due(target: OutboxTarget, now: number, limit: number, holder?: string): Promise<OutboxItem[]> {
    const { rows } =
      holder === undefined ? await this.db.query<Row>(DUE, [target, now, limit]) : await this.db.query<Row>(DUE_UNLEASED, [target, now, limit, holder]);
    return rows.map(toItem);
  }

  async nextAttemptAfter(target: OutboxTarget, now: number): Promise<number | null> {
    return (await this.db.query<{ at: number | null }>(NEXT, [target, now])).rows[0]?.at ?? null;
  }

  async markSent(id: number, now: number, receipt?: string): Promise<void> {
    await this.db.query("UPDATE outbox SET state = 'sent', sent_at = $1, attempts = attempts + 1, receipt = $2 WHERE id = $3", [now, receipt ?? null, id]);
  }

  async receipt(target: OutboxTarget, key: string): Promise<OutboxReceipt | undefined> {
    const row = (
      await this.db.query<{ receipt: string; sent_at: number }>(
        `SELECT receipt, sent_at FROM outbox
         WHERE target = $1 AND message_key = $2 AND state = 'sent' AND receipt IS NOT NULL ORDER BY id DESC LIMIT 1`,
        [target, key],
      )
    ).rows[0];
    return row ? { receipt: row.receipt, sentAt: row.sent_at } : undefined;
  }

  async markRetry(id: number, nextAttemptAt: number, error: string): Promise<void> {
    await this.db.query('UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2 WHERE id = $3', [
      nextAttemptAt,
      error.slice(0, 1000),
      id,
    ]);
  }

  async markFailed(id: number, error: string): Promise<void> {
    await this.db.query("UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = $1 WHERE id = $2", [error.slice(0, 1000), id]);
  }

  async depth(target?: OutboxTarget): Promise<number> {
    const { rows } = target
      ? await this.db.query<{ n: number }>("SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending' AND target = $1", [target])
      : await this.db.query<{ n: number }>("SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'");
    return rows[0]!.n;
  }
}
