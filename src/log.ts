// The pino root logger: JSON lines, with tokens, signatures and secrets redacted wherever they appear.
import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

export const REDACT_PATHS = [
  'token',
  'botToken',
  'appToken',
  'signingSecret',
  'auditKey',
  'secret',
  'secrets',
  'password',
  'authorization',
  '*.token',
  '*.botToken',
  '*.appToken',
  '*.signingSecret',
  '*.auditKey',
  '*.secret',
  '*.secrets',
  '*.password',
  '*.authorization',
  'headers.authorization',
  'headers["x-slack-signature"]',
  'headers["x-pagerduty-signature"]',
  'req.headers.authorization',
  'req.headers["x-slack-signature"]',
  'req.headers["x-pagerduty-signature"]',
  'config.slack',
  'config.auditKey',
  'config.pagerduty.apiToken',
  'config.pagerduty.webhookSecrets',
];

export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'edgeops' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
