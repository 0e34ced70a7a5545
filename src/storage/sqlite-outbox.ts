// SQLite implementation of the outbox: one pending head per channel (most urgent class, oldest first).
import { messageKeyOf, priorityOf } from '../core/outbox/delivery-order.js';
import type { ChatMessage, Outbox, OutboxItem, OutboxReceipt, OutboxTarget } from '../core/outbox/outbox.js';
import type { Db } from './database.js';
import { statementCache } from './statements.js';

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
 * The head (most urgent class, then oldest pending row) of every channel of a target, found by skipping
 * from one channel to the next along `outbox_pending` (state, target, channel, priority, id): the head
 * is the first index entry of its channel, so a few index seeks per channel, however
 * many messages wait behind each head. Grouping the pending rows instead reads every one of them, and
 * the sender asks on every wake-up, so a backlog (Slack down for an hour) would slow every command.
 */
const HEADS = `
  WITH RECURSIVE channels (channel) AS (
    SELECT MIN(channel) FROM outbox WHERE state = 'pending' AND target = @target
    UNION ALL
    SELECT (SELECT MIN(channel) FROM outbox WHERE state = 'pending' AND target = @target AND channel > channels.channel)
    FROM channels WHERE channels.channel IS NOT NULL
  ),
  heads (id) AS (
    SELECT (SELECT id FROM outbox WHERE state = 'pending' AND target = @target AND channel = channels.channel
            ORDER BY priority, id LIMIT 1)
    FROM channels WHERE channels.channel IS NOT NULL
  )`;

const INSERT = `INSERT INTO outbox (cause_seq, target, channel, body, next_attempt_at, created_at, priority, message_key)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?)`;
/** The head of each channel's queue, and only if its turn has come. */
const DUE = `${HEADS}
  SELECT o.* FROM heads h JOIN outbox o ON o.id = h.id
  WHERE o.next_attempt_at <= @now
  ORDER BY o.id LIMIT @limit`;
const NEXT = `${HEADS}
  SELECT MIN(o.next_attempt_at) AS at FROM heads h JOIN outbox o ON o.id = h.id
  WHERE o.next_attempt_at > @now`;

export class SqliteOutbox implements Outbox {
  private readonly stmt;

  constructor(
    db: Db,
    private readonly now: () => number,
    /** The store's durability: resolves once every commit so far is on stable storage. */
    readonly durable: () => Promise<void> = () => Promise.resolve(),
    /**
     * How the sender's bookkeeping (sent, retry later) is committed. The store's commits it without a
     * disk sync of its own, which would hold the event loop (every answer waiting to be sent) for a
     * whole fsync per delivered message; the next shared sync covers it. A mark lost to a power cut
     * only means the message goes out again, as after a crash between sending and marking.
     */
    private readonly bookkeeping: <T>(write: () => T) => T = (write) => write(),
  ) {
    // Compiled on first use, so a store opens on a database whose migrations have not run yet.
    this.stmt = statementCache(db);
  }

  private get insertStmt() {
    return this.stmt(INSERT);
  }

  private get dueStmt() {
    return this.stmt(DUE);
  }

  private get nextStmt() {
    return this.stmt(NEXT);
  }

  async enqueue(item: { causeSeq: number; target: OutboxTarget; channel: string; body: ChatMessage | Record<string, unknown> }): Promise<number> {
    const now = this.now();
    return Number(
      this.insertStmt.run(
        item.causeSeq,
        item.target,
        item.channel,
        JSON.stringify(item.body),
        now,
        now,
        priorityOf(item.target, item.body),
        messageKeyOf(item.target, item.body),
      ).lastInsertRowid,
    );
  }

  async due(target: OutboxTarget, now: number, limit: number): Promise<OutboxItem[]> {
    return (this.dueStmt.all({ target, now, limit }) as Row[]).map(toItem);
  }

  async nextAttemptAfter(target: OutboxTarget, now: number): Promise<number | null> {
    return (this.nextStmt.get({ target, now }) as { at: number | null }).at;
  }

  async markSent(id: number, now: number, receipt?: string): Promise<void> {
    const mark = this.stmt("UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1, receipt = ? WHERE id = ?");
    this.bookkeeping(() => mark.run(now, receipt ?? null, id));
  }

  async receipt(target: OutboxTarget, key: string): Promise<OutboxReceipt | undefined> {
    const row = this.stmt(
      `SELECT receipt, sent_at FROM outbox
       WHERE target = ? AND message_key = ? AND state = 'sent' AND receipt IS NOT NULL ORDER BY id DESC LIMIT 1`,
    ).get(target, key) as { receipt: string; sent_at: number } | undefined;
    return row ? { receipt: row.receipt, sentAt: row.sent_at } : undefined;
  }

  async markRetry(id: number, nextAttemptAt: number, error: string): Promise<void> {
    const mark = this.stmt('UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?');
    this.bookkeeping(() => mark.run(nextAttemptAt, error.slice(0, 1000), id));
  }

  async markFailed(id: number, error: string): Promise<void> {
    this.stmt("UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ? WHERE id = ?").run(error.slice(0, 1000), id);
  }

  async depth(target?: OutboxTarget): Promise<number> {
    const row = (
      target
        ? this.stmt("SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending' AND target = ?").get(target)
        : this.stmt("SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'").get()
    ) as { n: number };
    return row.n;
  }
}
