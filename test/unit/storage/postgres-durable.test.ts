// PostgreSQL's durable(): one flush serves every caller waiting when it starts, and a caller never settles for a flush begun before it.
import { describe, expect, it } from 'vitest';
import { createPool } from '../../../src/storage/postgres/pool.js';
import { PostgresUnitOfWork } from '../../../src/storage/postgres/postgres-unit-of-work.js';

/** Flushes the test starts and ends by hand. */
function heldFlushes(): { flush: () => Promise<void>; started: () => number; finish: (n: number) => void } {
  const ends: Array<() => void> = [];
  return {
    flush: () => new Promise<void>((resolve) => ends.push(resolve)),
    started: () => ends.length,
    finish: (n) => ends[n - 1]!(),
  };
}

/** A pool that is never connected: durable() reaches the database only through the flush, held here. */
const idlePool = () => createPool({ url: 'postgres://nobody@127.0.0.1:9/none' });

const turns = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('PostgresUnitOfWork.durable', () => {
  it('waits for the next flush when one is in progress, and shares that next flush among every caller meanwhile', async () => {
    const flushes = heldFlushes();
    const uow = new PostgresUnitOfWork(idlePool(), { flush: flushes.flush });
    const settled: string[] = [];
    const first = uow.durable().then(() => settled.push('first'));
    await turns();
    expect(flushes.started()).toBe(1);

    // Commits made now may come after the first flush's record: these callers need another flush.
    const second = uow.durable().then(() => settled.push('second'));
    const third = uow.durable().then(() => settled.push('third'));
    await turns();
    expect(flushes.started()).toBe(1);

    flushes.finish(1);
    await first;
    await turns();
    expect(settled).toEqual(['first']);
    expect(flushes.started()).toBe(2);

    flushes.finish(2);
    await Promise.all([second, third]);
    expect(settled).toEqual(['first', 'second', 'third']);
    expect(flushes.started()).toBe(2);
  });

  it('starts a flush of its own for a caller that finds none in progress', async () => {
    const flushes = heldFlushes();
    const uow = new PostgresUnitOfWork(idlePool(), { flush: flushes.flush });
    const first = uow.durable();
    flushes.finish(1);
    await first;
    const second = uow.durable();
    await turns();
    expect(flushes.started()).toBe(2);
    flushes.finish(2);
    await second;
  });

  it('rejects the callers of a flush that failed, and flushes afresh for the next caller', async () => {
    let calls = 0;
    const uow = new PostgresUnitOfWork(idlePool(), {
      flush: () => (++calls === 1 ? Promise.reject(new Error('the server went away')) : Promise.resolve()),
    });
    await expect(uow.durable()).rejects.toThrow('the server went away');
    await uow.durable();
    expect(calls).toBe(2);
  });
});
