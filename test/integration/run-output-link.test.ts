// Signed links to a run's full output: served to a valid link, refused when forged or expired.
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHttpServer } from '../../src/adapters/http/http-server.js';
import { RUN_OUTPUT_PATH, linkKey, runOutputLink, runOutputRoute } from '../../src/adapters/http/run-output-link.js';
import { createLogger } from '../../src/log.js';
import { makeTempDir, removeTempDirs } from '../helpers/temp-dir.js';
import { makeRunFixture, type RunFixture } from './runs/run-fixture.js';

let f: RunFixture;
let base: string;
let close: () => Promise<void>;
const key = linkKey('a'.repeat(64));

beforeEach(async () => {
  f = makeRunFixture(makeTempDir('output-link'), { env: { TEST_CANARY: 'canary-output-link-42' } });
  const server = createHttpServer({ logger: createLogger({ level: 'silent' }), routes: { [`GET ${RUN_OUTPUT_PATH}`]: runOutputRoute(f.app, key) } });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => new Promise((resolve) => server.close(() => resolve()));
});
afterEach(async () => {
  await close();
  await f.app.runs.idle();
  f.app.close();
  removeTempDirs();
});

describe('run output links', () => {
  it('serve the full, masked output to a valid link and refuse forged or expired ones', async () => {
    await f.say(f.ctx('U0DEV0001'), '/runbook', 'run leaky');
    await f.app.runs.idle();
    const link = runOutputLink({ publicUrl: base, key, runId: 'R-1', now: f.now.value, ttlMs: 60_000 });
    expect(link).toMatch(new RegExp(`^${base}/runs/output\\?run=R-1&expires=\\d+&sig=[\\w-]+$`));

    const ok = await fetch(link);
    expect(ok.status).toBe(200);
    const body = await ok.text();
    expect(body).toContain('R-1 leaky (staging): succeeded');
    expect(body).toContain('token=[secret]');
    expect(body).not.toContain('canary-output-link-42');

    const forged = new URL(link);
    forged.searchParams.set('run', 'R-2');
    expect((await fetch(forged)).status).toBe(403);
    const otherKey = runOutputLink({ publicUrl: base, key: linkKey('b'.repeat(64)), runId: 'R-1', now: f.now.value });
    expect((await fetch(otherKey)).status).toBe(403);

    f.now.value += 60_001;
    const expired = await fetch(link);
    expect(expired.status).toBe(403);
    expect(await expired.text()).toBe('forbidden: link expired\n');

    const missing = runOutputLink({ publicUrl: base, key, runId: 'R-99', now: f.now.value });
    expect((await fetch(missing)).status).toBe(404);
  });
});
