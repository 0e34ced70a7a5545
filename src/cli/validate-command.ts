// `edgeops validate [--policies DIR] [--commands DIR]`: lints policy and procedure files for CI.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { formatCatalogError, type CatalogError } from '../catalog/catalog-error.js';
import { loadCatalog, type CatalogDirs } from '../catalog/load-catalog.js';
import { write, type CliIo, type Subcommand } from './cli-io.js';

const USAGE = 'usage: edgeops validate [--policies DIR] [--commands DIR]';

/** The folders from flags, else `EDGEOPS_POLICIES` / `EDGEOPS_COMMANDS`, else `./policies`, `./commands`; relative to the cwd. */
export function catalogDirs(io: CliIo, flags: { policies?: string | undefined; commands?: string | undefined }): CatalogDirs {
  const pick = (flag: string | undefined, variable: string, fallback: string) => {
    const fromEnv = io.env[variable]?.trim();
    return path.resolve(io.cwd, flag ?? (fromEnv ? fromEnv : fallback));
  };
  return {
    policiesDir: pick(flags.policies, 'EDGEOPS_POLICIES', './policies'),
    commandsDir: pick(flags.commands, 'EDGEOPS_COMMANDS', './commands'),
  };
}

/** A path as the user would type it: relative to the cwd when inside it. */
export function displayPath(io: CliIo, file: string): string {
  const rel = path.relative(io.cwd, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

export const formatFinding = (io: CliIo, e: CatalogError): string => formatCatalogError(e, { file: displayPath(io, e.file) });

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export const validateCommand: Subcommand = async (argv, io) => {
  let flags: { policies?: string | undefined; commands?: string | undefined; help?: boolean | undefined };
  try {
    flags = parseArgs({
      args: argv,
      options: { policies: { type: 'string' }, commands: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: false,
      strict: true,
    }).values;
  } catch (err) {
    write(io.stderr, `edgeops validate: ${(err as Error).message}; ${USAGE}`);
    return 1;
  }
  if (flags.help) {
    write(io.stdout, USAGE);
    return 0;
  }

  const dirs = catalogDirs(io, flags);
  const result = loadCatalog(dirs);
  const findings = [...(result.ok ? [] : result.errors), ...result.warnings].sort((a, b) =>
    a.file === b.file ? a.line - b.line || a.col - b.col : a.file < b.file ? -1 : 1,
  );
  for (const f of findings) write(io.stdout, formatFinding(io, f));

  if (!result.ok) {
    const files = new Set(result.errors.map((e) => e.file)).size;
    write(
      io.stderr,
      `edgeops validate: ${plural(result.errors.length, 'error')} in ${plural(files, 'file')}` +
        (result.warnings.length > 0 ? `, ${plural(result.warnings.length, 'warning')}` : ''),
    );
    return 1;
  }
  const c = result.catalog;
  write(
    io.stdout,
    `ok: ${plural(c.files.policies.length, 'policy file')} (${plural(Object.keys(c.policy.roles).length, 'role')}, ` +
      `${plural(c.policy.rules.length, 'rule')}), ${plural(c.procedures.size, 'procedure')}, ` +
      `${plural(result.warnings.length, 'warning')}; policy sha256 ${c.policyHash.slice(0, 12)}`,
  );
  return 0;
};
