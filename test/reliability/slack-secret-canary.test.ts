// A secret param's value, or the bot's own credentials, printed by a step surface nowhere in Slack mode: not in a body sent to Slack, a log line, the database or an export.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PACKAGE_ROOT } from '../helpers/run-cli.js';
import { FORM, SIGNING_SECRET, commandBody, post, signedHeaders, type SlackResponse } from '../fixtures/slack/slack-harness.js';
import { leakedEncoding } from '../helpers/secret-leaks.js';
import { AUDIT_KEY, PAGERDUTY_OLD_SECRET, PAGERDUTY_SECRET, startServe, type Served } from './slack-serve.js';

const CATALOG = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'canary');
const HOSTILE = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'hostile');
const BOT_TOKEN = 'xoxb-reliability-token';
const OPERATOR = 'U0CANARY1';
const GENERAL = 'C0GENERAL1';
const MASK = '[secret]';

let s: Served | undefined;

afterEach(async () => {
  vi.restoreAllMocks();
  await s?.close();
  s = undefined;
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

/** Everything this process writes to its own stdout and stderr while `s` serves (passed through as well). */
function captureOwnOutput(): () => string {
  const written: string[] = [];
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    vi.spyOn(stream, 'write').mockImplementation((chunk: unknown, ...rest: unknown[]) => {
      written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      return original(chunk, ...rest);
    });
  }
  return () => written.join('');
}

describe('a secret param in Slack mode', () => {
  it('reaches the step, yet no Slack body, log line, database byte or export holds it; the result shows [secret]', async () => {
    const canary = `cnry${randomBytes(16).toString('hex')}`;
    const ownOutput = captureOwnOutput();
    s = await startServe({ catalog: CATALOG, env: { CANARY_TOKEN: canary } });
    const served = s;
    const answers: SlackResponse[] = [];
    /** A signed slash command; its ack must be a 200. */
    const command = async (channel: string, name: string, text: string): Promise<SlackResponse> => {
      const body = commandBody(OPERATOR, channel, name, text);
      const res = await post(served.eventsUrl, body, { 'content-type': FORM, ...signedHeaders(body) });
      expect(res.status, `${name} ${text}`).toBe(200);
      answers.push(res);
      return res;
    };

    await command(GENERAL, '/incident', 'declare "Canary check" sev=3');
    await s.server.drain();
    const channel = (await s.app.incidents.get('INC-1')).channelId!;
    expect(channel).toMatch(/^C0INC/);

    await command(channel, '/runbook', 'run leak-canary');
    await s.app.runs.idle();
    expect((await s.app.runs.get('R-1')).state).toBe('succeeded');
    await s.server.drain();
    const result = await s.slack.waitFor(
      ['chat.postMessage', 'chat.update'],
      (a) => a.channel === channel && (a.text ?? '').includes('R-1 leak-canary (staging) succeeded'),
    );
    // The delivered result shows the masked output of both steps.
    for (const line of ['stdout token=[secret]', 'stderr token=[secret]', 'TOKEN=[secret]', 'split token=[secret]'])
      expect(result.args.blocks).toContain(line);

    // The full-output link the result carries is served, masked.
    const link = /<(https:\/\/edgeops\.test\/runs\/output\?[^|>]+)\|full output>/.exec(result.args.blocks ?? '')?.[1]?.replace(/&amp;/g, '&');
    expect(link).toBeDefined();
    const output = await fetch(new URL(new URL(link!).pathname + new URL(link!).search, s.baseUrl));
    expect(output.status).toBe(200);
    const fullOutput = await output.text();
    expect(fullOutput).toContain('stdout token=[secret]');

    // Every other way the run can be shown, then the transcript in each format, uploaded to the channel.
    await command(channel, '/runbook', 'status R-1');
    await command(channel, '/runbook', 'run leak-canary --dry-run');
    await command(channel, '/incident', 'timeline limit=100');
    for (const format of ['md', 'json', 'html']) await command(channel, '/incident', `export format=${format}`);
    await s.server.drain();
    expect(s.slack.uploadBodies).toHaveLength(3);
    for (const upload of s.slack.uploadBodies) expect(upload.body).toContain(MASK);
    const exportsOnDisk: string[] = [];
    for (const format of ['md', 'json', 'html'] as const) exportsOnDisk.push(readFileSync(await s.app.exportFile('INC-1', format), 'utf8'));
    await s.server.drain();

    const sent = s.slack.sentBodies();
    const logged = s.logLines();
    const openDb = s.dbBytes();
    expect(logged.some((l) => l.includes('R-1'))).toBe(true);
    expect(openDb.includes(MASK)).toBe(true);

    const leaks = {
      slackBodies: sent.filter((b) => b.includes(canary)).length,
      ackBodies: answers.filter((a) => a.body.includes(canary)).length,
      fullOutput: fullOutput.includes(canary),
      logLines: logged.filter((l) => l.includes(canary)).length,
      ownOutput: ownOutput().includes(canary),
      databaseWhileOpen: openDb.includes(canary),
      uploadedExports: s.slack.uploadBodies.filter((u) => u.body.includes(canary)).length,
      exportFiles: exportsOnDisk.filter((e) => e.includes(canary)).length,
      filesAfterStop: [] as string[],
    };
    await s.stop();
    const files = filesUnder(s.dir);
    expect(files).toContain(s.dbPath);
    expect(readFileSync(s.dbPath).includes(MASK)).toBe(true);
    leaks.filesAfterStop = files.filter((f) => readFileSync(f).includes(canary));

    expect(leaks).toEqual({
      slackBodies: 0,
      ackBodies: 0,
      fullOutput: false,
      logLines: 0,
      ownOutput: false,
      databaseWhileOpen: false,
      uploadedExports: 0,
      exportFiles: 0,
      filesAfterStop: [],
    });
    console.info(
      `secret canary in Slack mode: 0 of ${sent.length} bodies sent to Slack (${s.slack.uploadBodies.length} export uploads), 0 of ${logged.length} log lines, 0 of ${openDb.length} database+WAL bytes, 0 of ${files.length} files after stop, 0 of ${exportsOnDisk.length} exports hold it; "${MASK}" in the delivered result`,
    );
  });
});

describe("the bot's own credentials in Slack mode", () => {
  it('printed by a hostile step raw, base64 at 3 offsets, base64url, hex and URL-encoded, reach no Slack body, log line, database byte or export', async () => {
    const ownOutput = captureOwnOutput();
    s = await startServe({ catalog: HOSTILE });
    const served = s;
    // What a step running as the bot's user reads from /proc/<bot>/environ; this bot keeps them in its configuration, so they are planted.
    const credentials = {
      signingSecret: SIGNING_SECRET,
      botToken: BOT_TOKEN,
      auditKey: AUDIT_KEY,
      pagerduty: PAGERDUTY_SECRET,
      pagerdutyOld: PAGERDUTY_OLD_SECRET,
    };
    writeFileSync(path.join(s.dir, 'commands', 'loot.txt'), `${Object.values(credentials).join('\n')}\n`);
    const answers: SlackResponse[] = [];
    const command = async (channel: string, name: string, text: string): Promise<void> => {
      const body = commandBody(OPERATOR, channel, name, text);
      const res = await post(served.eventsUrl, body, { 'content-type': FORM, ...signedHeaders(body) });
      expect(res.status, `${name} ${text}`).toBe(200);
      answers.push(res);
    };

    await command(GENERAL, '/incident', 'declare "Credential check" sev=3');
    await s.server.drain();
    const channel = (await s.app.incidents.get('INC-1')).channelId!;
    await command(channel, '/runbook', 'run steal-credentials');
    await s.app.runs.idle();
    expect((await s.app.runs.get('R-1')).state).toBe('succeeded');
    await s.server.drain();
    const result = await s.slack.waitFor(
      ['chat.postMessage', 'chat.update'],
      (a) => a.channel === channel && (a.text ?? '').includes('R-1 steal-credentials (staging) succeeded'),
    );
    // The step did print them: a line for every credential in every encoding.
    const stored = (await s.app.runs.steps('R-1'))[0]!.output;
    for (const label of ['LOOT_0 raw=', 'LOOT_1 hex=', 'LOOT_2 url=', 'LOOT_3 HEX=', 'LOOT_4 base64url+2=', 'done']) expect(stored).toContain(label);

    const link = /<(https:\/\/edgeops\.test\/runs\/output\?[^|>]+)\|full output>/.exec(result.args.blocks ?? '')?.[1]?.replace(/&amp;/g, '&');
    const fullOutput = await (await fetch(new URL(new URL(link!).pathname + new URL(link!).search, s.baseUrl))).text();
    await command(channel, '/runbook', 'status R-1');
    await command(channel, '/incident', 'timeline limit=100');
    for (const format of ['md', 'json', 'html']) await command(channel, '/incident', `export format=${format}`);
    await s.server.drain();
    expect(s.slack.uploadBodies).toHaveLength(3);
    const exportsOnDisk: string[] = [];
    for (const format of ['md', 'json', 'html'] as const) exportsOnDisk.push(readFileSync(await s.app.exportFile('INC-1', format), 'utf8'));
    await s.server.drain();

    const sinks: Record<string, string[] | Buffer[]> = {
      slackBodies: s.slack.sentBodies(),
      ackBodies: answers.map((a) => a.body),
      fullOutput: [fullOutput],
      logLines: s.logLines(),
      databaseWhileOpen: [s.dbBytes()],
      exportFiles: exportsOnDisk,
    };
    await s.stop();
    sinks.filesAfterStop = filesUnder(s.dir)
      .filter((f) => !f.endsWith('loot.txt'))
      .map((f) => readFileSync(f));
    sinks.ownOutput = [ownOutput()];

    const leaks: string[] = [];
    for (const [sink, items] of Object.entries(sinks)) {
      for (const [name, value] of Object.entries(credentials)) {
        for (const item of items) {
          const how = leakedEncoding(item, value);
          if (how) leaks.push(`${name} ${how} in ${sink}`);
        }
      }
    }
    expect(leaks).toEqual([]);
    expect(sinks.logLines!.length).toBeGreaterThan(0);
    for (const label of ['LOOT_0 raw=[secret]', 'LOOT_1 hex=[secret]', 'LOOT_2 url=[secret]', 'LOOT_3 HEX=[secret]']) expect(stored).toContain(label);
    expect(result.args.blocks).toContain('[secret]');
  });
});
