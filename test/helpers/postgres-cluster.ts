// A throwaway PostgreSQL 15 cluster for tests: initdb into a temp folder, served on a free loopback port.
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';

const run = promisify(execFile);

export const POSTGRES_BIN = process.env.EDGEOPS_TEST_POSTGRES_BIN ?? '/usr/lib/postgresql/15/bin';

export interface Cluster {
  /** Superuser URL of the `postgres` database, with its password. */
  adminUrl: string;
  dir: string;
  stop(): Promise<void>;
}

/** A port nobody listens on right now (the kernel's pick for a throwaway socket). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** The cluster's files belong to `postgres` when we are root: initdb and the server refuse to run as root. */
async function postgresUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const { stdout } = await run('id', ['-u', 'postgres']);
  const { stdout: g } = await run('id', ['-g', 'postgres']);
  return { uid: Number(stdout.trim()), gid: Number(g.trim()) };
}

function tool(name: string, args: string[], user: { uid: number; gid: number } | undefined) {
  const bin = path.join(POSTGRES_BIN, name);
  return user ? run('runuser', ['-u', 'postgres', '--', bin, ...args]) : run(bin, args);
}

/**
 * Starts a cluster: password (scram) auth over TCP on 127.0.0.1 only, no other listener but a socket
 * in the cluster's own folder; fsync off, as the data is thrown away (`durable` keeps PostgreSQL's
 * defaults, for measurements that compare with a database that syncs). `port` and `password` may be
 * chosen by the caller ahead of the start (the global setup hands out the URL before it is up).
 */
export async function startCluster(options: { port?: number; password?: string; durable?: boolean } = {}): Promise<Cluster> {
  if (!existsSync(path.join(POSTGRES_BIN, 'initdb'))) {
    throw new Error(`${POSTGRES_BIN}/initdb is missing: install PostgreSQL 15 (apt-get install postgresql; .ci/run does it)`);
  }
  const user = await postgresUser();
  const dir = mkdtempSync(path.join(tmpdir(), 'edgeops-pg-'));
  const password = options.password ?? randomBytes(12).toString('hex');
  const port = options.port ?? (await freeLoopbackPort());
  const data = path.join(dir, 'data');
  const pwfile = path.join(dir, 'pwfile');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (user) {
    chownSync(dir, user.uid, user.gid);
    chownSync(pwfile, user.uid, user.gid);
  }
  try {
    await tool('initdb', ['-D', data, '-U', 'postgres', '--pwfile', pwfile, '-A', 'scram-sha-256', '-E', 'UTF8', '--locale', 'C', '--no-sync'], user);
    // Only loopback TCP with a password; the local socket is for nobody (reject).
    const hba = path.join(data, 'pg_hba.conf');
    writeFileSync(hba, 'host all all 127.0.0.1/32 scram-sha-256\nlocal all all reject\n');
    if (user) chownSync(hba, user.uid, user.gid);
    await tool(
      'pg_ctl',
      [
        '-D',
        data,
        '-l',
        path.join(dir, 'server.log'),
        '-w',
        '-t',
        '60',
        '-o',
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 ${options.durable === true ? '' : '-c fsync=off -c synchronous_commit=off -c full_page_writes=off '}-c max_connections=200`,
        'start',
      ],
      user,
    );
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  // Who started it: a later run stops it if that process died before its teardown (killed, or its output pipe closed).
  writeFileSync(path.join(dir, 'owner.pid'), String(process.pid));
  const adminUrl = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  return {
    adminUrl,
    dir,
    async stop() {
      try {
        await tool('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'], user);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Stops and removes clusters left by earlier runs whose process is gone. */
export async function removeAbandonedClusters(): Promise<void> {
  const user = await postgresUser();
  for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith('edgeops-pg-'))) {
    const dir = path.join(tmpdir(), name);
    const owner = Number(existsSync(path.join(dir, 'owner.pid')) ? readFileSync(path.join(dir, 'owner.pid'), 'utf8') : NaN);
    if (!Number.isInteger(owner) || alive(owner)) continue;
    if (existsSync(path.join(dir, 'data')))
      await tool('pg_ctl', ['-D', path.join(dir, 'data'), '-m', 'immediate', '-w', 'stop'], user).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
