// The Slack server runs on hand-made ports and no database: commands go through the commandWrites port, health through the health port.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startSlackServer, type SlackServer, type SlackServerPorts } from '../../../src/adapters/slack/slack-server.js';
import type { CommandWrites } from '../../../src/app-ports.js';
import { bootCatalog } from '../../../src/cli/bootstrap.js';
import { loadConfig } from '../../../src/config.js';
import type { CommandContext } from '../../../src/core/commands/command-context.js';
import { systemClock } from '../../../src/core/ports.js';
import { createLogger } from '../../../src/log.js';
import { FakeSlack, SLACK_API_URL } from '../../fixtures/slack/fake-slack.js';
import { FORM, GROUPS, POLICY, RESTART_SERVICE, SIGNING_SECRET, USERS, commandBody, post, signedHeaders } from '../../fixtures/slack/slack-harness.js';

const GENERAL = 'C0GENERAL1';
const unused = (name: string) => (): never => {
  throw new Error(`${name} is not part of this test`);
};

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

/** The Slack server over hand-made ports: `steps` records what reached them, in order. */
async function serveOnPorts(options: { durable?: () => Promise<void>; writable?: boolean } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'edgeops-ports-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, 'policies'));
  mkdirSync(path.join(dir, 'commands', 'scripts'), { recursive: true });
  writeFileSync(path.join(dir, 'policies', 'default.yaml'), POLICY);
  writeFileSync(path.join(dir, 'commands', 'restart-service.yaml'), RESTART_SERVICE);
  writeFileSync(path.join(dir, 'commands', 'scripts', 'restart.sh'), '#!/bin/sh\necho restarted\n');
  chmodSync(path.join(dir, 'commands', 'scripts', 'restart.sh'), 0o755);
  const config = loadConfig(
    {
      PORT: '0',
      HOST: '127.0.0.1',
      EDGEOPS_DB: path.join(dir, 'never-opened.db'),
      EDGEOPS_POLICIES: path.join(dir, 'policies'),
      EDGEOPS_COMMANDS: path.join(dir, 'commands'),
      EDGEOPS_AUDIT_KEY: 'a'.repeat(64),
      SLACK_BOT_TOKEN: 'xoxb-test-token',
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL,
    },
    { cwd: dir },
  );
  const catalog = bootCatalog(config);
  const steps: string[] = [];
  const commandWrites: CommandWrites = {
    defer(work) {
      steps.push('defer:start');
      try {
        return work();
      } finally {
        steps.push('defer:end');
      }
    },
    durable() {
      steps.push('durable');
      return options.durable ? options.durable() : Promise.resolve();
    },
  };
  const idle = { kick: () => undefined, stop: async () => undefined, drain: async () => undefined };
  const ports: SlackServerPorts = {
    config,
    logger: createLogger({ level: process.env.EDGEOPS_TEST_LOG ?? 'silent', destination: process.stderr }),
    clock: systemClock,
    catalog: () => catalog,
    handle: async (ctx: CommandContext, command: string, text: string) => {
      steps.push(`handle ${command} ${text} as ${ctx.actor.id}`);
      return { text: `handled ${command}` };
    },
    commandWrites,
    health: { writable: () => Promise.resolve(options.writable ?? true) },
    outboxes: { dispatch: () => idle, receipt: unused('receipt'), due: unused('due'), markSent: unused('markSent') },
    onMessages: () => () => undefined,
    useGroupDirectory: () => undefined,
    // Listeners and delivery reach these only for clicks, pins and queued messages, which this test sends none of.
    runs: {} as SlackServerPorts['runs'],
    incidents: {} as SlackServerPorts['incidents'],
    visibility: {} as SlackServerPorts['visibility'],
    access: {} as SlackServerPorts['access'],
    pins: { isPinned: unused('isPinned') },
    transcript: unused('transcript'),
  };
  const slack = new FakeSlack();
  slack.groups = { ...GROUPS };
  slack.install();
  cleanup.push(() => slack.uninstall());
  const server: SlackServer = await startSlackServer(ports, config.slack!, {});
  cleanup.push(() => server.stop());
  const command = (text: string, name = '/incident') => {
    const body = commandBody(USERS.sre, GENERAL, name, text);
    return post(`${server.url}/slack/events`, body, { 'content-type': FORM, ...signedHeaders(body) });
  };
  return { server, steps, command, dbPath: config.dbPath };
}

describe('the Slack server on hand-made ports', () => {
  it('runs /incident inside commandWrites.defer and answers only after commandWrites.durable', async () => {
    const { steps, command, dbPath } = await serveOnPorts();
    const res = await command('declare "Checkout is down" sev=2');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ response_type: 'ephemeral', text: 'handled /incident' });
    expect(steps).toEqual(['defer:start', `handle /incident declare "Checkout is down" sev=2 as ${USERS.sre}`, 'defer:end', 'durable']);
    expect(existsSync(dbPath)).toBe(false);
  });

  it('runs /runbook outside the deferred sync: a run starts processes, so its commits sync as they land', async () => {
    const { steps, command } = await serveOnPorts();
    const res = await command('list', '/runbook');
    expect(JSON.parse(res.body)).toMatchObject({ text: 'handled /runbook' });
    expect(steps).toEqual([`handle /runbook list as ${USERS.sre}`]);
  });

  it('answers that nothing is confirmed when commandWrites.durable fails', async () => {
    const { steps, command } = await serveOnPorts({ durable: () => Promise.reject(new Error('fsync: I/O error')) });
    const res = await command('note "still down"');
    expect(JSON.parse(res.body)).toMatchObject({ text: '⏳ edgeops could not confirm this was saved to disk; try again in a minute' });
    expect(steps.at(-1)).toBe('durable');
  });

  it('reports 503 on /healthz when the health port says the database takes no writes', async () => {
    const { server } = await serveOnPorts({ writable: false });
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(503);
    expect(await res.text()).toContain('database is not writable');
  });
});
