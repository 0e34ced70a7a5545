// SQLite implementation of the outbox: one pending head per channel keeps per-channel order.
import type { ChatMessage, Outbox, OutboxItem, OutboxTarget } from '../core/outbox/outbox.js';
import type { Db } from './database.js';

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

export class SqliteOutbox implements Outbox {
  private readonly insertStmt;
  private readonly dueStmt;
  private readonly nextStmt;

  constructor(
    private readonly db: Db,
    private readonly now: () => number,
  ) {
    this.insertStmt = db.prepare(
      `INSERT INTO outbox (cause_seq, target, channel, body, next_attempt_at, created_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    // The head of each channel's queue, and only if its turn has come.
    this.dueStmt = db.prepare(
      `SELECT o.* FROM outbox o
       JOIN (SELECT channel, MIN(id) AS id FROM outbox WHERE state = 'pending' AND target = ? GROUP BY channel) h
         ON o.id = h.id
       WHERE o.next_attempt_at <= ?
       ORDER BY o.id LIMIT ?`,
    );
    this.nextStmt = db.prepare(
      `SELECT MIN(o.next_attempt_at) AS at FROM outbox o
       JOIN (SELECT channel, MIN(id) AS id FROM outbox WHERE state = 'pending' AND target = ? GROUP BY channel) h
         ON o.id = h.id
       WHERE o.next_attempt_at > ?`,
    );
  }

  enqueue(item: { causeSeq: number; target: OutboxTarget; channel: string; body: ChatMessage | Record<string, unknown> }): number {
    const now = this.now();
    return Number(
      this.insertStmt.run(item.causeSeq, item.target, item.channel, JSON.stringify(item.body), now, now).lastInsertRowid,
    );
  }

  due(target: OutboxTarget, now: number, limit: number): OutboxItem[] {
    return (this.dueStmt.all(target, now, limit) as Row[]).map(toItem);
  }

  nextAttemptAfter(target: OutboxTarget, now: number): number | null {
    return (this.nextStmt.get(target, now) as { at: number | null }).at;
  }

  markSent(id: number, now: number): void {
    this.db.prepare("UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1 WHERE id = ?").run(now, id);
  }

  markRetry(id: number, nextAttemptAt: number, error: string): void {
    this.db
      .prepare('UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?')
      .run(nextAttemptAt, error.slice(0, 1000), id);
  }

  markFailed(id: number, error: string): void {
    this.db
      .prepare("UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ? WHERE id = ?")
      .run(error.slice(0, 1000), id);
  }

  depth(target?: OutboxTarget): number {
    const row = (target
      ? this.db.prepare("SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending' AND target = ?").get(target)
      : this.db.prepare("SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'").get()) as { n: number };
    return row.n;
  }
}
