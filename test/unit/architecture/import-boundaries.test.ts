// The layers of docs/architecture.md, read from the imports of src/: no cycle, a self-contained core, adapters without storage.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importCycles, importEdges, type ImportEdge } from '../../helpers/import-graph.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const edges = importEdges(root);
const show = (list: ImportEdge[]): string[] => list.map((e) => `${e.from} → ${e.to}`);

/** What src/core may import besides itself. */
const CORE_MAY_IMPORT = new Set(['src/errors.ts', 'zod', 'node:crypto']);
/** The composition root: it alone builds services from the store. */
const COMPOSITION_ROOT = 'src/app.ts';

describe('import boundaries of src/', () => {
  it('reads the imports of every layer (the check is not vacuous)', () => {
    const layers = new Set(edges.map((e) => e.from.split('/')[1]));
    for (const layer of ['core', 'adapters', 'storage', 'cli']) expect(layers).toContain(layer);
    expect(edges.some((e) => e.from === COMPOSITION_ROOT && e.to === 'src/storage/store.ts')).toBe(true);
  });

  it('has no import cycle', () => {
    expect(importCycles(edges).map((cycle) => cycle.join(' → '))).toEqual([]);
  });

  it('keeps src/core free of imports from outside it but errors, zod and node:crypto', () => {
    const outside = edges.filter((e) => e.from.startsWith('src/core/') && !e.to.startsWith('src/core/') && !CORE_MAY_IMPORT.has(e.to));
    expect(show(outside)).toEqual([]);
  });

  it('keeps adapters away from storage and from the composition root', () => {
    const reaching = edges.filter((e) => e.from.startsWith('src/adapters/') && (e.to.startsWith('src/storage/') || e.to === COMPOSITION_ROOT));
    expect(show(reaching)).toEqual([]);
  });
});

describe('the import-graph reader', () => {
  it('finds a cycle of two files and a longer one', () => {
    const edge = (from: string, to: string): ImportEdge => ({ from, to, relative: true });
    const cycles = importCycles([
      edge('a.ts', 'b.ts'),
      edge('b.ts', 'a.ts'),
      edge('c.ts', 'd.ts'),
      edge('d.ts', 'e.ts'),
      edge('e.ts', 'c.ts'),
      edge('e.ts', 'f.ts'),
    ]);
    expect(cycles).toEqual([
      ['a.ts', 'b.ts', 'a.ts'],
      ['c.ts', 'd.ts', 'e.ts', 'c.ts'],
    ]);
  });
});
