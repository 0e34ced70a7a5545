// Findings about policy and procedure files, each pinned to `file:line:col` as editors and CI expect.

export type Severity = 'error' | 'warning';

export interface CatalogError {
  /** Path of the file (or folder) as it was given to the loader. */
  file: string;
  /** 1-based; 0 when the finding is about a folder rather than a place in a file. */
  line: number;
  col: number;
  message: string;
  severity: Severity;
}

/** `file:line:col: message`, with `warning: ` before warnings' messages; folder findings drop `:line:col`. */
export function formatCatalogError(e: CatalogError, options: { file?: string } = {}): string {
  const file = options.file ?? e.file;
  const where = e.line > 0 ? `${file}:${e.line}:${e.col}` : file;
  return `${where}: ${e.severity === 'warning' ? 'warning: ' : ''}${e.message}`;
}

export function compareCatalogErrors(a: CatalogError, b: CatalogError): number {
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  if (a.line !== b.line) return a.line - b.line;
  if (a.col !== b.col) return a.col - b.col;
  return a.message < b.message ? -1 : a.message > b.message ? 1 : 0;
}
