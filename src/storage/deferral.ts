// Which work may commit without waiting for the disk: a mark carried through its async calls, closed when the work settles.
import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * `run(work)` marks `work` and everything it calls as deferred until `work` settles; `active()` tells
 * a transaction whether it was begun by such work. Work it leaves running in the background (a run
 * it started) is no longer deferred once `work` has settled. Nested calls join the outer mark.
 */
export class Deferral {
  private readonly marks = new AsyncLocalStorage<{ open: boolean }>();

  active(): boolean {
    return this.marks.getStore()?.open === true;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active()) return work();
    const mark = { open: true };
    try {
      return await this.marks.run(mark, work);
    } finally {
      mark.open = false;
    }
  }
}
