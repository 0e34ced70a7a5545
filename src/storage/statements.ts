// Prepared statements by SQL text, each compiled once per connection and reused on every call.
import type { Statement } from 'better-sqlite3';
import type { Db } from './database.js';

/**
 * Compiling a statement costs as much as running a small one, so repositories ask this cache instead
 * of `db.prepare` on hot paths. Statements are compiled on first use, so a repository can be made
 * before the migrations that create its tables have run.
 */
export function statementCache(db: Db): (sql: string) => Statement {
  const statements = new Map<string, Statement>();
  return (sql) => {
    let statement = statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      statements.set(sql, statement);
    }
    return statement;
  };
}
