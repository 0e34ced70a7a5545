// Local mode and the CLI: the console's /portal link signs in its current user with their groups; edgeops sessions lists and revokes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp, type ComposedApp as App } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { createConsoleSession, type ConsoleSession } from '../../../src/adapters/console/console-session.js';
import { bootCatalog } from '../../../src/cli/bootstrap.js';
import { createLogger } from '../../../src/log.js';
import { runCli } from '../../helpers/run-cli.js';

const catalog = bootCatalog({ policiesDir: path.resolve('policies'), commandsDir: path.resolve('commands') });
const KEY = 'k'.repeat(64);

let dir: string;
let app: App;
let out: string[];
let session: ConsoleSession;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'edgeops-portal-local-'));
  app = createApp({
    config: loadConfig({ EDGEOPS_DB: path.join(dir, 'edgeops.db'), EDGEOPS_PUBLIC_URL: 'http://127.0.0.1:3999' }, { cwd: dir }),
    logger: createLogger({ level: 'silent' }),
    auditKey: KEY,
    catalog: () => catalog,
    env: { PATH: process.env.PATH },
  });
  out = [];
  session = createConsoleSession(app, { actor: { id: 'U0LOCAL01', groups: [] }, write: (t) => out.push(t) });
});

afterEach(() => {
  session.close();
  app.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('portal in local mode', () => {
  it('/portal prints a one-time link for the console user, whose session carries the groups they act with', async () => {
    await session.handleLine('/as U0OTHER01 S0SRE,S0DEVS');
    out = [];
    await session.handleLine('/portal');
    expect(out).toHaveLength(1);
    const m =
      /^Sign in to the ops portal as U0OTHER01 \(once, within 10 minutes\): http:\/\/127\.0\.0\.1:3999\/portal\/sign-in\?token=([A-Za-z0-9_-]+)$/.exec(
        out[0]!,
      );
    expect(m).not.toBeNull();
    const { sessionId, userId } = await app.portal.redeemLink(m![1]!);
    expect(userId).toBe('U0OTHER01');
    expect((await app.portal.session(sessionId))?.groups).toEqual(['S0SRE', 'S0DEVS']);
    const issued = app.store.db.prepare("SELECT actor, source FROM audit_log WHERE kind = 'portal.link_issued'").all();
    expect(issued).toEqual([{ actor: 'U0OTHER01', source: 'console' }]);
  });

  it('edgeops sessions list shows sessions by a short ID, and revoke ends one and refuses an unknown one', async () => {
    await session.handleLine('/portal');
    const token = /token=([A-Za-z0-9_-]+)/.exec(out.join('\n'))![1]!;
    const { sessionId } = await app.portal.redeemLink(token);
    const [stored] = await app.portal.list();
    app.close();
    const env = { EDGEOPS_DB: path.join(dir, 'edgeops.db'), EDGEOPS_AUDIT_KEY: KEY };
    const listed = await runCli(['sessions', 'list'], { env, cwd: dir });
    expect(listed.code).toBe(0);
    const id = stored!.idHash.slice(0, 12);
    expect(listed.stdout).toMatch(new RegExp(`^${id}  U0LOCAL01    link`, 'm'));
    expect(listed.stdout).not.toContain(sessionId);
    const unknown = await runCli(['sessions', 'revoke', '00000000'], { env, cwd: dir });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no session 00000000');
    const revoked = await runCli(['sessions', 'revoke', id], { env, cwd: dir });
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`revoked ${id} (U0LOCAL01)`);
    expect((await runCli(['sessions', 'list'], { env, cwd: dir })).stdout).toContain('No portal sessions.');
    app = createApp({
      config: loadConfig({ EDGEOPS_DB: path.join(dir, 'edgeops.db') }, { cwd: dir }),
      logger: createLogger({ level: 'silent' }),
      auditKey: KEY,
      catalog: () => catalog,
      env: { PATH: process.env.PATH },
    });
    expect(await app.portal.session(sessionId)).toBeUndefined();
    expect((await app.store.audit.verify()).ok).toBe(true);
  });
});
