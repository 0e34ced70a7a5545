// Logs are JSON lines; tokens, signatures and secrets never appear in them.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, destination };
}

describe('createLogger', () => {
  it('writes JSON lines with level labels and redacts secrets wherever they sit', async () => {
    const { lines, destination } = capture();
    const logger = createLogger({ level: 'debug', destination });
    logger.info(
      {
        config: {
          slack: { botToken: 'xoxb-SECRET-1', signingSecret: 'sig-SECRET-2' },
          auditKey: 'key-SECRET-3',
          pagerduty: { apiToken: 'pd-SECRET-4', webhookSecrets: ['wh-SECRET-5'] },
        },
        req: { headers: { authorization: 'Token token=pd-SECRET-6', 'x-slack-signature': 'v0=SECRET-7', 'x-pagerduty-signature': 'v1=SECRET-8' } },
        token: 'SECRET-9',
        secret: 'SECRET-10',
      },
      'request received',
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 'info', msg: 'request received', service: 'edgeops' });
    expect(lines[0]).not.toMatch(/SECRET/);
    expect(lines[0]).toContain('[redacted]');
  });

  it('masks the values it is given anywhere in a line, raw and encoded, in messages and errors alike', async () => {
    const { lines, destination } = capture();
    const signing = 'f00dfeedcafe0123456789abcdef0123';
    const token = 'xoxb-1234-5678-abcdefghijkl';
    const logger = createLogger({ level: 'debug', destination, maskValues: [signing, token] });
    logger.warn(
      { err: new Error(`request failed with ${token}`), detail: { body: `sig=${signing}` } },
      `step said ${Buffer.from(token).toString('base64')}`,
    );
    logger.info({ output: Buffer.from(signing).toString('hex') }, 'plain');
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines).toHaveLength(2);
    const text = lines.join('\n');
    for (const leaked of [signing, token, Buffer.from(token).toString('base64'), Buffer.from(signing).toString('hex'), 'abcdefghijkl', 'f00dfeedcafe']) {
      expect(text).not.toContain(leaked);
    }
    const [first, second] = lines.map((l) => JSON.parse(l) as { msg: string; err?: { message: string }; detail?: { body: string }; output?: string });
    expect(first).toMatchObject({ msg: 'step said [secret]', err: { message: 'request failed with [secret]' }, detail: { body: 'sig=[secret]' } });
    expect(second).toMatchObject({ msg: 'plain', output: '[secret]' });
  });

  it('respects the level', () => {
    const { lines, destination } = capture();
    createLogger({ level: 'warn', destination }).info('not shown');
    expect(lines).toEqual([]);
  });
});
