// SQLite implementation of the outbox: one pending head per channel keeps per-channel order.
import type { ChatMessage, Outbox, OutboxItem, OutboxTarget } from '../core/outbox/outbox.js';
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
});

/**
 * The head (oldest pending row) of every channel of a target, found by skipping from one channel to
 * the next along `outbox_pending` (state, target, channel, id): a few index seeks per channel, however
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
    SELECT (SELECT MIN(id) FROM outbox WHERE state = 'pending' AND target = @target AND channel = channels.channel)
    FROM channels WHERE channels.channel IS NOT NULL
  )`;

export class SqliteOutbox implements Outbox {
  private readonly insertStmt;
  private readonly dueStmt;
  private readonly nextStmt;
  private readonly stmt;

  constructor(
    db: Db,
    private readonly now: () => number,
    /** The store's durability: resolves once every commit so far is on stable storage. */
    readonly durable: () => Promise<void> = () => Promise.resolve(),
  ) {
    this.stmt = statementCache(db);
    this.insertStmt = db.prepare(
      `INSERT INTO outbox (cause_seq, target, channel, body, next_attempt_at, created_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    // The head of each channel's queue, and only if its turn has come.
    this.dueStmt = db.prepare(
      `${HEADS}
       SELECT o.* FROM heads h JOIN outbox o ON o.id = h.id
       WHERE o.next_attempt_at <= @now
       ORDER BY o.id LIMIT @limit`,
    );
    this.nextStmt = db.prepare(
      `${HEADS}
       SELECT MIN(o.next_attempt_at) AS at FROM heads h JOIN outbox o ON o.id = h.id
       WHERE o.next_attempt_at > @now`,
    );
  }

  enqueue(item: { causeSeq: number; target: OutboxTarget; channel: string; body: ChatMessage | Record<string, unknown> }): number {
    const now = this.now();
    return Number(
      this.insertStmt.run(item.causeSeq, item.target, item.channel, JSON.stringify(item.body), now, now).lastInsertRowid,
    );
  }

  due(target: OutboxTarget, now: number, limit: number): OutboxItem[] {
    return (this.dueStmt.all({ target, now, limit }) as Row[]).map(toItem);
  }

  nextAttemptAfter(target: OutboxTarget, now: number): number | null {
    return (this.nextStmt.get({ target, now }) as { at: number | null }).at;
  }

  markSent(id: number, now: number): void {
    this.stmt("UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1 WHERE id = ?").run(now, id);
  }

  markRetry(id: number, nextAttemptAt: number, error: string): void {
    this.stmt('UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?')
      .run(nextAttemptAt, error.slice(0, 1000), id);
  }

  markFailed(id: number, error: string): void {
    this.stmt("UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ? WHERE id = ?")
      .run(error.slice(0, 1000), id);
  }

  depth(target?: OutboxTarget): number {
    const row = (target
      ? this.stmt("SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending' AND target = ?").get(target)
      : this.stmt("SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'").get()) as { n: number };
    return row.n;
  }
}
