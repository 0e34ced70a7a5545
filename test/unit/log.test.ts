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
        config: { slack: { botToken: 'xoxb-SECRET-1', signingSecret: 'sig-SECRET-2' }, auditKey: 'key-SECRET-3', pagerduty: { apiToken: 'pd-SECRET-4', webhookSecrets: ['wh-SECRET-5'] } },
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

  it('respects the level', () => {
    const { lines, destination } = capture();
    createLogger({ level: 'warn', destination }).info('not shown');
    expect(lines).toEqual([]);
  });
});
