// Hot reload of policies and procedures: a valid edit is swapped in whole, a bad one keeps the last good catalog.
import { watch, type FSWatcher } from 'node:fs';
import type { Logger } from '../log.js';
import type { CatalogError } from './catalog-error.js';
import { loadCatalog, type Catalog, type CatalogDirs, type LoadCatalogResult } from './load-catalog.js';

export interface CatalogWatcherOptions extends CatalogDirs {
  /** The catalog loaded at start; served until a valid edit replaces it. */
  initial: Catalog;
  /** Called after a changed, valid catalog has been swapped in. */
  onChange: (catalog: Catalog) => void;
  /** Called when an edit does not validate; the previous catalog stays in force. */
  onReloadFailed: (errors: CatalogError[]) => void;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Quiet time after the last file event before reloading; editors write in bursts. */
  debounceMs?: number;
}

export interface CatalogWatcher {
  /** The catalog in force; callers read it whole, once per request. */
  current(): Catalog;
  /** Reloads now (also what a file event triggers after the debounce). */
  reload(): LoadCatalogResult;
  close(): void;
}

const fingerprint = (c: Pick<Catalog, 'policyHash' | 'commandsHash'>) => `${c.policyHash}:${c.commandsHash}`;
const errorsKey = (errors: readonly CatalogError[]) => errors.map((e) => `${e.file}:${e.line}:${e.col}:${e.message}`).join('\n');

export function createCatalogWatcher(options: CatalogWatcherOptions): CatalogWatcher {
  const debounceMs = options.debounceMs ?? 150;
  const log = options.logger;
  let catalog = options.initial;
  let lastFailure: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const reload = (): LoadCatalogResult => {
    const result = loadCatalog({ policiesDir: options.policiesDir, commandsDir: options.commandsDir });
    if (!result.ok) {
      // The same broken state seen again (another save of an unrelated file, a touch) is reported once.
      const key = errorsKey(result.errors);
      if (key !== lastFailure) {
        lastFailure = key;
        log?.error({ errors: result.errors }, 'catalog reload failed; keeping the last good catalog');
        options.onReloadFailed(result.errors);
      }
      return result;
    }
    lastFailure = undefined;
    if (fingerprint(result.catalog) === fingerprint(catalog)) return result;
    catalog = result.catalog;
    log?.info({ policyHash: catalog.policyHash, procedures: catalog.procedures.size }, 'catalog reloaded');
    options.onChange(catalog);
    return result;
  };

  const schedule = () => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      if (closed) return;
      try {
        reload();
      } catch (err) {
        log?.error({ err }, 'catalog reload crashed; keeping the last good catalog');
      }
    }, debounceMs);
  };

  const watchers: FSWatcher[] = [];
  for (const dir of new Set([options.policiesDir, options.commandsDir])) {
    try {
      const w = watch(dir, { persistent: false }, schedule);
      w.on('error', (err) => log?.warn({ err, dir }, 'watching a catalog folder failed; edits there need a restart'));
      watchers.push(w);
    } catch (err) {
      log?.warn({ err, dir }, 'cannot watch a catalog folder; edits there need a restart');
    }
  }

  return {
    current: () => catalog,
    reload,
    close: () => {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
