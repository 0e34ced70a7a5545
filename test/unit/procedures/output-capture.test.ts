// Output kept per step: head and tail within the cap, arrival order and stream tags, dropped bytes counted.
import { describe, expect, it } from 'vitest';
import { OutputCapture } from '../../../src/core/procedures/output-capture.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('OutputCapture', () => {
  it('keeps everything under the cap, in arrival order, tagged by stream', () => {
    const c = new OutputCapture({ maxBytes: 100, headBytes: 10 });
    c.push('stdout', bytes('one\n'));
    c.push('stderr', bytes('warn\n'));
    c.push('stdout', bytes('two\n'));
    c.push('stdout', bytes('three\n'));
    expect(c.result()).toEqual({
      output: 'one\nwarn\ntwo\nthree\n',
      chunks: [
        { stream: 'stdout', text: 'one\n' },
        { stream: 'stderr', text: 'warn\n' },
        { stream: 'stdout', text: 'two\nthree\n' },
      ],
      truncatedBytes: 0,
    });
  });

  it('keeps the head and the tail, and counts what was dropped between', () => {
    const c = new OutputCapture({ maxBytes: 20, headBytes: 5 });
    c.push('stdout', bytes('HEAD:'));
    for (let i = 0; i < 100; i++) c.push('stdout', bytes('..........'));
    c.push('stderr', bytes('the end!'));
    const r = c.result();
    expect(r.truncatedBytes).toBe(5 + 1000 + 8 - 20);
    expect(r.output).toBe(`HEAD:\n[… ${r.truncatedBytes} bytes of output dropped …]\n.......the end!`);
    expect(r.chunks).toEqual([
      { stream: 'stdout', text: 'HEAD:' },
      { stream: 'stdout', text: '.......' },
      { stream: 'stderr', text: 'the end!' },
    ]);
    expect(c.totalBytes).toBe(1013);
  });

  it('handles one chunk larger than the whole cap', () => {
    const c = new OutputCapture({ maxBytes: 10, headBytes: 4 });
    c.push('stdout', bytes('abcdefghijklmnopqrstuvwxyz'));
    expect(c.result()).toMatchObject({ truncatedBytes: 16, chunks: [{ text: 'abcd' }, { text: 'uvwxyz' }] });
  });

  it('stays within the cap for many tiny chunks', () => {
    const c = new OutputCapture({ maxBytes: 1000, headBytes: 100 });
    for (let i = 0; i < 200_000; i++) c.push(i % 2 ? 'stdout' : 'stderr', bytes('x'));
    const r = c.result();
    expect(r.truncatedBytes).toBe(199_000);
    expect(r.chunks.reduce((n, ch) => n + ch.text.length, 0)).toBe(1000);
  });

  it('joins a multi-byte character split across reads of one stream', () => {
    const c = new OutputCapture();
    const euro = bytes('€');
    c.push('stdout', euro.subarray(0, 1));
    c.push('stdout', euro.subarray(1));
    expect(c.result().output).toBe('€');
  });

  it('masks secrets, including one split across reads and fragments cut at the edges', () => {
    const split = new OutputCapture();
    split.push('stdout', bytes('token=hunt'));
    split.push('stdout', bytes('er22\n'));
    expect(split.result(['hunter22']).output).toBe('token=[secret]\n');

    const cut = new OutputCapture({ maxBytes: 20, headBytes: 8 });
    cut.push('stdout', bytes('ok hunter22 middle middle middle hunter22 end'));
    const r = cut.result(['hunter22']);
    expect(r.output).not.toMatch(/hunt|er22/);
    expect(r.chunks.map((c) => c.text).join('')).not.toMatch(/hunt|er22/);
  });
});
