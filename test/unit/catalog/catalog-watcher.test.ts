// Hot reload over real temporary folders: bad edits keep the last good catalog, good edits swap in whole.
import { describe, expect, it, onTestFinished } from 'vitest';
import type { CatalogError } from '../../../src/catalog/catalog-error.js';
import { createCatalogWatcher } from '../../../src/catalog/catalog-watcher.js';
import { loadCatalog, type Catalog } from '../../../src/catalog/load-catalog.js';
import { MINIMAL_POLICY, RESTART_SERVICE, tempCatalog } from './temp-catalog.js';

/** Collects callbacks and lets a test wait for the next one of a kind. */
function recorder() {
  const changes: Catalog[] = [];
  const failures: CatalogError[][] = [];
  const waiters: Array<() => void> = [];
  const notify = () => waiters.splice(0).forEach((w) => w());
  const next = <T>(list: T[], count: number, what: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 5000);
      const check = () => {
        if (list.length >= count) {
          clearTimeout(timer);
          resolve(list[count - 1]!);
        } else waiters.push(check);
      };
      check();
    });
  return {
    changes,
    failures,
    onChange: (c: Catalog) => {
      changes.push(c);
      notify();
    },
    onReloadFailed: (e: CatalogError[]) => {
      failures.push(e);
      notify();
    },
    nthChange: (n: number) => next(changes, n, `change #${n}`),
    nthFailure: (n: number) => next(failures, n, `failure #${n}`),
  };
}

function start(files: Record<string, string>) {
  const dirs = tempCatalog(files);
  const initial = loadCatalog(dirs);
  if (!initial.ok) throw new Error('the initial catalog should load');
  const rec = recorder();
  const watcher = createCatalogWatcher({
    policiesDir: dirs.policiesDir,
    commandsDir: dirs.commandsDir,
    initial: initial.catalog,
    onChange: rec.onChange,
    onReloadFailed: rec.onReloadFailed,
    debounceMs: 30,
  });
  onTestFinished(() => watcher.close());
  return { dirs, initial: initial.catalog, rec, watcher };
}

describe('createCatalogWatcher', () => {
  it('keeps the last good catalog on a bad edit, then swaps in a good edit', async () => {
    const { dirs, initial, rec, watcher } = start({ 'policies/a.yaml': MINIMAL_POLICY, 'commands/restart-service.yaml': RESTART_SERVICE });

    dirs.write('policies/a.yaml', MINIMAL_POLICY.replace('allow: ["*"]', 'alow: ["*"]'));
    const errors = await rec.nthFailure(1);
    expect(errors.some((e) => e.message.includes('unknown key "alow"') && e.line === 7)).toBe(true);
    expect(watcher.current()).toBe(initial);
    expect(rec.changes).toEqual([]);

    const edited = MINIMAL_POLICY.replace('U0SRE0001', 'U0SRE0002');
    dirs.write('policies/a.yaml', edited);
    const swapped = await rec.nthChange(1);
    expect(watcher.current()).toBe(swapped);
    expect(swapped.policyHash).not.toBe(initial.policyHash);
    expect(swapped.policy.roles['sre-oncall']!.users).toEqual(['U0SRE0002']);
    // The old catalog object is untouched: readers holding it see a consistent whole.
    expect(initial.policy.roles['sre-oncall']!.users).toEqual(['U0SRE0001']);
  });

  it('reloads on procedure edits and on new files', async () => {
    const { dirs, rec, watcher } = start({ 'policies/a.yaml': MINIMAL_POLICY, 'commands/restart-service.yaml': RESTART_SERVICE });
    dirs.write('commands/diag-disk.yaml', RESTART_SERVICE.replace('name: restart-service', 'name: diag-disk'));
    const next = await rec.nthChange(1);
    expect([...next.procedures.keys()].sort()).toEqual(['diag-disk', 'restart-service']);
    expect(watcher.current()).toBe(next);
  });

  it('keeps the catalog when a referenced procedure breaks, and reports it', async () => {
    const { dirs, initial, rec, watcher } = start({ 'policies/a.yaml': MINIMAL_POLICY, 'commands/restart-service.yaml': RESTART_SERVICE });
    dirs.write('commands/restart-service.yaml', 'name: restart-service\nsteps: [\n');
    const errors = await rec.nthFailure(1);
    expect(errors[0]!.message).toMatch(/YAML syntax/);
    expect(watcher.current()).toBe(initial);
    expect(watcher.current().procedures.has('restart-service')).toBe(true);
  });

  it('reload() applies at once and reports nothing new when nothing changed', () => {
    const { dirs, initial, rec, watcher } = start({ 'policies/a.yaml': MINIMAL_POLICY, 'commands/restart-service.yaml': RESTART_SERVICE });
    watcher.close();
    expect(watcher.reload().ok).toBe(true);
    expect(watcher.current()).toBe(initial);
    expect(rec.changes).toEqual([]);

    dirs.write('policies/a.yaml', 'version: 1\nroles: {}\nrules:\n  - roles: [ghost]\n    allow: [run]\n');
    expect(watcher.reload().ok).toBe(false);
    expect(watcher.reload().ok).toBe(false);
    expect(rec.failures).toHaveLength(1);
    expect(watcher.current()).toBe(initial);
  });
});
