// Finds the audit HMAC key: from the environment, or the key file generated once in the data folder.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ConfigError } from './errors.js';
import { PRIVATE_FILE_MODE, makePrivateDir, tightenFileMode } from './private-files.js';

export const KEY_FILE = 'audit.key';

export interface AuditKey {
  key: string;
  origin: 'environment' | 'file' | 'generated';
  file?: string;
}

/**
 * `generate` is allowed in local mode only; commands that check existing data (verify, export)
 * must not invent a key, or they would report a sound log as tampered.
 */
export function resolveAuditKey(options: { fromEnv: string | undefined; dataDir: string; generate: boolean }): AuditKey {
  if (options.fromEnv) return { key: options.fromEnv, origin: 'environment' };
  const file = path.join(options.dataDir, KEY_FILE);
  if (existsSync(file)) {
    const key = readFileSync(file, 'utf8').trim();
    if (key.length < 32) throw new ConfigError([`${file}: the audit key is shorter than 32 characters`]);
    tightenFileMode(file);
    return { key, origin: 'file', file };
  }
  if (!options.generate) {
    throw new ConfigError([`EDGEOPS_AUDIT_KEY: not set, and no key file at ${file}; set the key the log was written with`]);
  }
  makePrivateDir(options.dataDir);
  const key = randomBytes(32).toString('hex');
  // 'wx': never overwrite a key another process wrote a moment ago.
  try {
    writeFileSync(file, `${key}\n`, { mode: PRIVATE_FILE_MODE, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return resolveAuditKey({ ...options, generate: false });
    throw err;
  }
  return { key, origin: 'generated', file };
}
