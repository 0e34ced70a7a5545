// Group commit: items of one event-loop turn share one write; each caller hears about its own item.
import { describe, expect, it } from 'vitest';
import { groupCommit } from '../../../src/adapters/pagerduty/group-commit.js';

describe('groupCommit', () => {
  it('writes items submitted together as one batch, in order, and answers each caller', async () => {
    const batches: number[][] = [];
    const save = groupCommit(async (items: number[]) => {
      batches.push(items);
      return items.map((i) => i * 10);
    });
    const answers = await Promise.all([1, 2, 3].map((i) => save(i)));
    expect(answers).toEqual([10, 20, 30]);
    expect(batches).toEqual([[1, 2, 3]]);
    expect(await save(4)).toBe(40);
    expect(batches).toEqual([[1, 2, 3], [4]]);
  });

  it('caps a batch and writes the rest in the next one', async () => {
    const batches: number[][] = [];
    const save = groupCommit(async (items: number[]) => (batches.push(items), items), { maxBatch: 2 });
    await Promise.all([1, 2, 3, 4, 5].map((i) => save(i)));
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('rejects every caller of a batch whose write failed, and carries on with the next', async () => {
    let fail = true;
    const save = groupCommit(async (items: string[]) => {
      if (fail) throw new Error('disk full');
      return items;
    });
    const results = await Promise.allSettled([save('a'), save('b')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect(await save('c')).toBe('c');
  });
});
