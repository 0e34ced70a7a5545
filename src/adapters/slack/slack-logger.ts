// Bridges the Slack SDK's logger interface (Bolt, Web API, Socket Mode) onto our pino logger.
import { LogLevel, type Logger as SlackLogger } from '@slack/bolt';
import type { Logger } from '../../log.js';

type Level = 'debug' | 'info' | 'warn' | 'error';

function slackLevelOf(pinoLevel: string): LogLevel {
  switch (pinoLevel) {
    case 'trace':
    case 'debug':
      return LogLevel.DEBUG;
    case 'info':
      return LogLevel.INFO;
    case 'warn':
      return LogLevel.WARN;
    default:
      return LogLevel.ERROR;
  }
}

/**
 * The SDK logs `(...msg)` lists of strings and errors; pino wants `(obj, message)`. Errors become
 * `{ err }`, the rest is joined into the message. The level stays pino's: the SDK may not raise it.
 */
export function slackSdkLogger(logger: Logger, component = 'slack'): SlackLogger {
  const child = logger.child({ component });
  const emit = (level: Level, msg: unknown[]): void => {
    const err = msg.find((m): m is Error => m instanceof Error);
    const text = msg
      .filter((m) => m !== err)
      .map((m) => (typeof m === 'string' ? m : m instanceof Error ? m.message : safeJson(m)))
      .join(' ');
    if (err) child[level]({ err }, text || err.message);
    else child[level](text);
  };
  return {
    debug: (...msg: unknown[]) => emit('debug', msg),
    info: (...msg: unknown[]) => emit('info', msg),
    warn: (...msg: unknown[]) => emit('warn', msg),
    error: (...msg: unknown[]) => emit('error', msg),
    // The SDK calls setLevel with its own defaults; LOG_LEVEL is the one setting, so it is kept.
    setLevel: () => undefined,
    getLevel: () => slackLevelOf(child.level),
    setName: () => undefined,
  };
}

function safeJson(value: unknown): string {
  try {
    // undefined for undefined, functions and symbols, whatever its declared type says.
    const json = JSON.stringify(value) as unknown;
    return typeof json === 'string' ? json : String(value);
  } catch {
    return String(value);
  }
}
