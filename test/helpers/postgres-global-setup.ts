// vitest global setup: one PostgreSQL cluster for the whole run, started in the background.
// Its URL is known before it is up (port and password are chosen first), so a run without
// PostgreSQL tests never waits for it; `testDatabase()` waits until it accepts connections.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { freeLoopbackPort, removeAbandonedClusters, startCluster, type Cluster } from './postgres-cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresAdminUrl: string;
    /** A file holding why the cluster could not start, once it is known not to. */
    postgresFailureFile: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const port = await freeLoopbackPort();
  const password = randomBytes(12).toString('hex');
  const status = mkdtempSync(path.join(tmpdir(), 'edgeops-pg-status-'));
  const failureFile = path.join(status, 'failure');
  writeFileSync(path.join(status, 'owner.pid'), String(process.pid));
  project.provide('postgresAdminUrl', `postgres://postgres:${password}@127.0.0.1:${port}/postgres`);
  project.provide('postgresFailureFile', failureFile);
  const started: Promise<Cluster | undefined> = removeAbandonedClusters()
    .then(() => startCluster({ port, password }))
    .catch((err: unknown) => {
      writeFileSync(failureFile, String((err as Error).stack ?? err));
      return undefined;
    });
  return async () => {
    const cluster = await started;
    await cluster?.stop();
    rmSync(status, { recursive: true, force: true });
  };
}
