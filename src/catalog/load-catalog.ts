// Reads `policies/*.yaml` and `commands/*.yaml`, validates them with the core schemas and the lint, and builds a Catalog.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { mergePolicyFiles, type Policy, type PolicyFileInput } from '../core/policy/policy.js';
import { PolicyFileSchema } from '../core/policy/policy-schema.js';
import { ProcedureSchema, type Procedure } from '../core/procedures/procedure-schema.js';
import { compareCatalogErrors, type CatalogError } from './catalog-error.js';
import { lintCatalog, type ParsedPolicyFile, type ParsedProcedure } from './lint.js';
import { findingAt, issuesToFindings, parseYamlSource, positionAt, type YamlSource } from './yaml-source.js';

export interface CatalogDirs {
  policiesDir: string;
  commandsDir: string;
}

/** Everything the bot decides and runs with; swapped as a whole on reload, never mutated. */
export interface Catalog {
  policy: Policy;
  /** sha256 hex over the policy files (see `hashFiles`); recorded with every decision. */
  policyHash: string;
  /** sha256 hex over the procedure files, same framing. */
  commandsHash: string;
  procedures: ReadonlyMap<string, Procedure>;
  /** Paths of the files read, sorted by name. */
  files: { policies: readonly string[]; commands: readonly string[] };
  policiesDir: string;
  /** Steps' relative programs resolve against this folder. */
  commandsDir: string;
  /** Findings that do not stop the catalog from loading. */
  warnings: readonly CatalogError[];
}

export type LoadCatalogResult = { ok: true; catalog: Catalog; warnings: CatalogError[] } | { ok: false; errors: CatalogError[]; warnings: CatalogError[] };

/** One file as read from disk: the path used in findings, its base name and its bytes. */
export interface RawFile {
  file: string;
  name: string;
  bytes: Uint8Array;
}

const YAML_FILE = /\.ya?ml$/;

/** Reads both folders and builds the catalog; every problem found in any file is reported at once. */
export function loadCatalog(dirs: CatalogDirs): LoadCatalogResult {
  const policies = readYamlFolder(dirs.policiesDir);
  const commands = readYamlFolder(dirs.commandsDir);
  if (!policies.ok || !commands.ok) {
    const errors = [...(policies.ok ? [] : [policies.error]), ...(commands.ok ? [] : [commands.error])];
    return { ok: false, errors, warnings: [] };
  }
  return buildCatalog({ ...dirs, policyFiles: policies.files, commandFiles: commands.files });
}

function readYamlFolder(dir: string): { ok: true; files: RawFile[] } | { ok: false; error: CatalogError } {
  const problem = (message: string) => ({ ok: false as const, error: { file: dir, line: 0, col: 0, message, severity: 'error' as const } });
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) return problem('not a folder');
    names = readdirSync(dir).filter((n) => YAML_FILE.test(n));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return problem(code === 'ENOENT' ? 'folder not found' : `cannot read folder: ${(err as Error).message}`);
  }
  const files: RawFile[] = [];
  for (const name of names.sort(compareNames)) {
    const file = path.join(dir, name);
    try {
      if (!statSync(file).isFile()) continue;
      files.push({ file, name, bytes: readFileSync(file) });
    } catch (err) {
      return problem(`cannot read ${name}: ${(err as Error).message}`);
    }
  }
  return { ok: true, files };
}

const compareNames = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * sha256 hex over files sorted by name, each framed as `name NUL byteLength NUL bytes`, so that
 * renaming, reordering or moving bytes between files always changes the hash.
 */
export function hashFiles(files: readonly RawFile[]): string {
  const h = createHash('sha256');
  for (const f of [...files].sort((a, b) => compareNames(a.name, b.name))) {
    h.update(f.name, 'utf8');
    h.update('\0');
    h.update(String(f.bytes.byteLength));
    h.update('\0');
    h.update(f.bytes);
  }
  return h.digest('hex');
}

const POLICY_KEYS = [
  'version',
  'roles',
  'rules',
  'users',
  'groups',
  'pagerduty_services',
  'scheduler',
  'allow',
  'deny',
  'procedures',
  'environments',
  'channels',
  'approval',
  'count',
  'expires',
  'reminders',
  'status_update',
  'commander',
  'sev1',
  'sev2',
  'sev3',
  'sev4',
];
const PROCEDURE_KEYS = [
  'name',
  'description',
  'owner',
  'environments',
  'timeout',
  'concurrency',
  'params',
  'steps',
  'triggers',
  'type',
  'required',
  'pattern',
  'max_length',
  'default',
  'min',
  'max',
  'values',
  'env',
  'run',
  'http',
  'on_error',
  'method',
  'url',
  'headers',
  'body',
  'expect_status',
  'pagerduty',
  'event',
  'service',
  'with',
  'schedule',
  'cron',
  'channel',
];

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decode(raw: RawFile): { ok: true; text: string } | { ok: false; error: CatalogError } {
  try {
    return { ok: true, text: utf8.decode(raw.bytes).replace(/^\uFEFF/, '') };
  } catch {
    return { ok: false, error: { file: raw.file, line: 1, col: 1, message: 'file is not valid UTF-8', severity: 'error' } };
  }
}

function parseFile(raw: RawFile): { ok: true; source: YamlSource } | { ok: false; errors: CatalogError[] } {
  const text = decode(raw);
  if (!text.ok) return { ok: false, errors: [text.error] };
  return parseYamlSource(raw.file, raw.name, text.text);
}

/** Names found in files that failed validation, so lint does not also call references to them unknown. */
function namesInBrokenFile(value: unknown, key: 'roles' | 'name'): string[] {
  if (value === null || typeof value !== 'object') return [];
  const v = (value as Record<string, unknown>)[key];
  if (key === 'name') return typeof v === 'string' ? [v] : [];
  return v !== null && typeof v === 'object' ? Object.keys(v) : [];
}

/** Builds a catalog from files already read; no file-system access. */
export function buildCatalog(input: CatalogDirs & { policyFiles: readonly RawFile[]; commandFiles: readonly RawFile[] }): LoadCatalogResult {
  const findings: CatalogError[] = [];
  const policyFiles: ParsedPolicyFile[] = [];
  const procedures: ParsedProcedure[] = [];
  const brokenRoles: string[] = [];
  const brokenProcedures: string[] = [];

  if (input.policyFiles.length === 0) {
    findings.push({
      file: input.policiesDir,
      line: 0,
      col: 0,
      message: 'no policy files (*.yaml); with no policy every request would be denied',
      severity: 'error',
    });
  }

  for (const raw of input.policyFiles) {
    const parsed = parseFile(raw);
    if (!parsed.ok) {
      findings.push(...parsed.errors);
      continue;
    }
    const source = parsed.source;
    const result = PolicyFileSchema.safeParse(source.value);
    if (!result.success) {
      findings.push(...issuesToFindings(source, result.error.issues, POLICY_KEYS));
      brokenRoles.push(...namesInBrokenFile(source.value, 'roles'));
      continue;
    }
    policyFiles.push({ source, policy: result.data });
  }

  for (const raw of input.commandFiles) {
    const parsed = parseFile(raw);
    if (!parsed.ok) {
      findings.push(...parsed.errors);
      brokenProcedures.push(raw.name.replace(YAML_FILE, ''));
      continue;
    }
    const source = parsed.source;
    const result = ProcedureSchema.safeParse(source.value);
    if (!result.success) {
      findings.push(...issuesToFindings(source, result.error.issues, PROCEDURE_KEYS));
      brokenProcedures.push(raw.name.replace(YAML_FILE, ''), ...namesInBrokenFile(source.value, 'name'));
      continue;
    }
    procedures.push({ source, procedure: result.data });
  }

  const inputs: PolicyFileInput[] = policyFiles.map(({ source, policy }) => ({
    file: source.name,
    policy,
    ruleLines: policy.rules.map((_, i) => positionAt(source, ['rules', i]).line),
  }));
  const { policy, conflicts, remindersIn } = mergePolicyFiles(inputs);
  for (const name of remindersIn.slice(1)) {
    const source = policyFiles.find((p) => p.source.name === name)!.source;
    findings.push(
      findingAt(source, ['reminders'], `reminders are already set in ${remindersIn[0]}; set them in one policy file only`, 'error', { key: true }),
    );
  }
  for (const conflict of conflicts) {
    const [first, ...later] = conflict.files;
    for (const name of later) {
      const source = policyFiles.find((p) => p.source.name === name)!.source;
      findings.push(
        findingAt(source, ['roles', conflict.role], `role "${conflict.role}" is already defined in ${first}; define each role in one file only`, 'error', {
          key: true,
        }),
      );
    }
  }

  findings.push(...lintCatalog({ policy, policyFiles, procedures, brokenRoles, brokenProcedures }));
  findings.sort(compareCatalogErrors);
  const errors = findings.filter((f) => f.severity === 'error');
  const warnings = findings.filter((f) => f.severity === 'warning');
  if (errors.length > 0) return { ok: false, errors, warnings };

  const byName = new Map<string, Procedure>();
  for (const p of procedures) byName.set(p.procedure.name, p.procedure);
  const catalog: Catalog = {
    policy,
    policyHash: hashFiles(input.policyFiles),
    commandsHash: hashFiles(input.commandFiles),
    procedures: byName,
    files: { policies: input.policyFiles.map((f) => f.file), commands: input.commandFiles.map((f) => f.file) },
    policiesDir: input.policiesDir,
    commandsDir: input.commandsDir,
    warnings,
  };
  return { ok: true, catalog, warnings };
}
