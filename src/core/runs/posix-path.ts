// POSIX path arithmetic on strings (what `node:path`'s posix functions compute), so the core needs no file-system module.

export const isAbsolutePosix = (p: string): boolean => p.startsWith('/');

/** Collapses `.`, `..` and repeated slashes, as `path.posix.normalize` does (a trailing slash stays). */
export function normalizePosix(p: string): string {
  if (p.length === 0) return '.';
  const absolute = isAbsolutePosix(p);
  const trailingSlash = p.endsWith('/');
  const kept: string[] = [];
  for (const segment of p.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (kept.length > 0 && kept[kept.length - 1] !== '..') kept.pop();
      else if (!absolute) kept.push('..');
      continue;
    }
    kept.push(segment);
  }
  const body = kept.join('/');
  if (body.length === 0) return absolute ? '/' : trailingSlash ? './' : '.';
  const withSlash = trailingSlash ? `${body}/` : body;
  return absolute ? `/${withSlash}` : withSlash;
}
