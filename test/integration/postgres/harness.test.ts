// The test cluster itself: reachable with its password on loopback only, a database per file.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase, type TestDatabase } from '../../helpers/postgres.js';

describe('test PostgreSQL cluster', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await testDatabase('harness');
  });
  // beforeAll can fail before assigning `db`; the declared type speaks for the tests.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
  afterAll(async () => db?.drop());

  it('serves PostgreSQL 15 on 127.0.0.1 with a database of its own for this file', async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const r = await client.query<{ v: string; db: string; addr: string }>(
        "SELECT current_setting('server_version_num') AS v, current_database() AS db, inet_server_addr()::text AS addr",
      );
      expect(r.rows[0]!.v).toMatch(/^15/);
      expect(r.rows[0]!.db).toBe(db.name);
      expect(r.rows[0]!.addr).toBe('127.0.0.1/32');
    } finally {
      await client.end();
    }
  });

  it('refuses a connection with the wrong password', async () => {
    const url = new URL(db.url);
    url.password = 'wrong';
    const client = new pg.Client({ connectionString: url.toString() });
    await expect(client.connect()).rejects.toThrow(/password authentication failed for user "postgres"/);
    await client.end().catch(() => undefined);
  });
});
