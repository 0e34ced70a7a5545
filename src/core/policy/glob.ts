// Whole-value `*` globs (docs/policy.md): a pattern matches the entire value, never a substring of it.

export const isGlob = (pattern: string): boolean => pattern.includes('*');

/**
 * True when `value` matches `pattern` as a whole. `*` stands for any run of characters (also
 * none); every other character is literal, so `restart` never matches `restart-service`.
 * Matched without regular expressions so no pattern can cost more than linear-times-pieces work.
 */
export function globMatch(pattern: string, value: string): boolean {
  if (!isGlob(pattern)) return pattern === value;
  const pieces = pattern.split('*');
  const first = pieces[0]!;
  const last = pieces[pieces.length - 1]!;
  if (value.length < first.length + last.length) return false;
  if (!value.startsWith(first) || !value.endsWith(last)) return false;
  let at = first.length;
  const end = value.length - last.length;
  for (let i = 1; i < pieces.length - 1; i++) {
    const piece = pieces[i]!;
    if (piece === '') continue;
    const found = value.indexOf(piece, at);
    if (found === -1 || found + piece.length > end) return false;
    at = found + piece.length;
  }
  return true;
}

/** True when any of the patterns matches the value. */
export const anyGlobMatch = (patterns: readonly string[], value: string): boolean => patterns.some((p) => globMatch(p, value));
