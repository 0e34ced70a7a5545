// The core's POSIX path arithmetic agrees with node:path's on every path, including `..` past the start.
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isAbsolutePosix, normalizePosix } from '../../../src/core/runs/posix-path.js';

const pathLike = fc.array(fc.constantFrom('a', 'bc', '.', '..', '...', '/', '//', '.a', 'a.'), { maxLength: 12 }).map((parts) => parts.join(''));

describe('POSIX paths in the core', () => {
  it('normalizes every path as path.posix.normalize does', () => {
    fc.assert(
      fc.property(pathLike, (p) => {
        expect(normalizePosix(p)).toBe(path.posix.normalize(p));
      }),
      { numRuns: 5_000 },
    );
  });

  it('tells absolute paths as path.posix.isAbsolute does', () => {
    fc.assert(
      fc.property(pathLike, (p) => {
        expect(isAbsolutePosix(p)).toBe(path.posix.isAbsolute(p));
      }),
    );
  });

  it('keeps a climb out of the folder visible, and drops one past the root', () => {
    expect(normalizePosix('scripts/../../x.sh')).toBe('../x.sh');
    expect(normalizePosix('/../x.sh')).toBe('/x.sh');
    expect(normalizePosix('./scripts//run.sh')).toBe('scripts/run.sh');
  });
});
