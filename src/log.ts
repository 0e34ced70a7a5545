// The pino root logger: JSON lines, with tokens, signatures and secrets redacted wherever they appear.
import pino, { type DestinationStream, type Logger } from 'pino';
import { secretMasker } from './core/procedures/mask.js';

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

export interface LoggerOptions {
  level: string;
  destination?: DestinationStream;
  /**
   * Values never written, wherever they appear in a line (`[secret]` instead, also in their encoded
   * forms): the bot's credentials. Redaction by path misses a value inside a message or an error.
   */
  maskValues?: readonly string[];
}

export function createLogger(options: LoggerOptions): Logger {
  const mask = options.maskValues && options.maskValues.length > 0 ? secretMasker(options.maskValues) : undefined;
  return pino(
    {
      level: options.level,
      ...(mask ? { hooks: { streamWrite: (line: string) => mask(line) } } : {}),
      base: { service: 'edgeops' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
