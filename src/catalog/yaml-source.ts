// One YAML file parsed with positions, so schema issues and lint findings point at `line:col`.
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import type { CatalogError, Severity } from './catalog-error.js';

export type YamlPath = readonly PropertyKey[];

export interface YamlSource {
  /** Path as given to the loader; used in findings. */
  file: string;
  /** Base name, e.g. `restart-service.yaml`. */
  name: string;
  text: string;
  doc: Document.Parsed;
  lineCounter: LineCounter;
  /** The document as plain data. */
  value: unknown;
}

export type ParseResult = { ok: true; source: YamlSource } | { ok: false; errors: CatalogError[] };

/** Cap on alias expansion, so a "billion laughs" file cannot exhaust memory. */
const MAX_ALIAS_COUNT = 100;

export function parseYamlSource(file: string, name: string, text: string): ParseResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => lineCounter.linePos(Math.min(offset, Math.max(text.length, 0)));
  const finding = (offset: number, message: string, severity: Severity): CatalogError => {
    const { line, col } = at(offset);
    return { file, line, col, message, severity };
  };
  const warnings = doc.warnings.map((w) => finding(w.pos[0], `YAML: ${firstLine(w.message)}`, 'warning'));
  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: [...doc.errors.map((e) => finding(e.pos[0], `YAML syntax: ${firstLine(e.message)}`, 'error')), ...warnings],
    };
  }
  if (doc.contents === null || text.trim() === '') {
    return { ok: false, errors: [{ file, line: 1, col: 1, message: 'file is empty', severity: 'error' }] };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    return { ok: false, errors: [finding(0, `YAML: ${firstLine((err as Error).message)}`, 'error')] };
  }
  return { ok: true, source: { file, name, text, doc, lineCounter, value } };
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '').trim();
}

interface Located {
  /** The deepest node reached along the path. */
  node: Node | null;
  /** The key of the last map entry reached, when the path went through a map. */
  key: Node | null;
  /** Whether the whole path was found. */
  complete: boolean;
}

function locate(source: YamlSource, path: YamlPath): Located {
  let node = source.doc.contents as Node | null;
  let key: Node | null = null;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) return { node, key, complete: false };
      key = pair.key as Node;
      node = (pair.value as Node | null) ?? null;
      // `key:` with nothing after it: the key is the only place to point at.
      if (node === null) return { node: key, key, complete: true };
    } else if (isSeq(node) && typeof segment === 'number' && node.items[segment] !== undefined) {
      node = node.items[segment] as Node;
      key = null;
    } else {
      return { node, key, complete: false };
    }
  }
  return { node, key, complete: true };
}

/** 1-based line and column of the value at `path` (or of its key), or of the nearest enclosing node. */
export function positionAt(source: YamlSource, path: YamlPath, options: { key?: boolean } = {}): { line: number; col: number } {
  const found = locate(source, path);
  const target = options.key && found.complete && found.key ? found.key : found.node;
  const offset = target?.range?.[0] ?? 0;
  return source.lineCounter.linePos(offset);
}

/** The plain value at `path`, or undefined; aliases are already resolved here, unlike in the node tree. */
export function valueAt(root: unknown, path: YamlPath): unknown {
  let v: unknown = root;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

export function findingAt(
  source: YamlSource,
  path: YamlPath,
  message: string,
  severity: Severity = 'error',
  options: { key?: boolean } = {},
): CatalogError {
  const { line, col } = positionAt(source, path, options);
  return { file: source.file, line, col, message, severity };
}

/** `rules[2].approval.expires`; the empty path is the whole file. */
export function formatPath(path: YamlPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

/** Turns schema issues into findings at the offending node, in words a file author can act on. */
export function issuesToFindings(source: YamlSource, issues: readonly z.core.$ZodIssue[], vocabulary: readonly string[]): CatalogError[] {
  const out: CatalogError[] = [];
  for (const issue of issues) {
    const path = issue.path;
    const where = formatPath(path);
    const prefix = where === '' ? '' : `${where}: `;
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) {
        const hint = suggest(k, vocabulary);
        const message = `${where === '' ? '' : `${where}: `}unknown key "${k}"${hint ? ` (did you mean "${hint}"?)` : ''}`;
        out.push(findingAt(source, [...path, k], message, 'error', { key: true }));
      }
      continue;
    }
    if (issue.code === 'invalid_key') {
      const why = issue.issues.map((i) => i.message).join('; ');
      const parent = formatPath(path.slice(0, -1));
      out.push(findingAt(source, path, `${parent === '' ? '' : `${parent}: `}key "${String(path[path.length - 1])}": ${why}`, 'error', { key: true }));
      continue;
    }
    if (path.length > 0 && issue.code !== 'custom' && valueAt(source.value, path) === undefined) {
      const parent = formatPath(path.slice(0, -1));
      const key = String(path[path.length - 1]);
      out.push(findingAt(source, path, `${parent === '' ? '' : `${parent}: `}missing required key "${key}"`));
      continue;
    }
    out.push(findingAt(source, path, `${prefix}${describeIssue(issue)}`));
  }
  return out;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_union' && 'note' in issue && issue.note === 'No matching discriminator') {
    const options = (issue as { options?: unknown[] }).options ?? [];
    return `must be one of ${options.map(String).join(', ')}`;
  }
  if (issue.code === 'invalid_type') return issue.message.replace(/^Invalid input: /, '');
  return issue.message;
}

/** The closest known key within two edits, to turn `alow` into a hint about `allow`. */
export function suggest(word: string, vocabulary: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of vocabulary) {
    const d = editDistance(word.toLowerCase(), candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
