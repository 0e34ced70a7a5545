// PostgreSQL for a test file: a fresh database of its own on the run's cluster, dropped after.
import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

const ADMIN_URL = (): string => inject('postgresAdminUrl');

/** Waits (up to `timeoutMs`) until the cluster accepts connections; fails at once with its start error. */
export async function waitForPostgres(timeoutMs = 60_000): Promise<void> {
  const failureFile = inject('postgresFailureFile');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(failureFile)) throw new Error(`the test PostgreSQL cluster did not start:\n${readFileSync(failureFile, 'utf8')}`);
    const client = new pg.Client({ connectionString: ADMIN_URL(), connectionTimeoutMillis: 2_000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`the test PostgreSQL cluster did not accept connections: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  /** Superuser URL of this database (the superuser can disable triggers, as a tamperer would). */
  url: string;
  name: string;
  drop(): Promise<void>;
}

/**
 * A new empty database; `drop()` removes it (call it from `afterAll`). The cluster's locale is C;
 * `icuLocale` (e.g. 'en-US') gives the database a language's collation, as production ones often have.
 */
export async function testDatabase(label = 'test', options: { icuLocale?: string } = {}): Promise<TestDatabase> {
  await waitForPostgres();
  const name = `edgeops_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const locale =
    options.icuLocale === undefined ? '' : ` TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE '${options.icuLocale.replace(/[^A-Za-z0-9_-]/g, '')}'`;
  await admin((c) => c.query(`CREATE DATABASE ${name}${locale}`));
  const url = new URL(ADMIN_URL());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}
