// What a bench case is: a named async function that returns figures, each with an optional goal.

export interface Figure {
  /** What was measured, e.g. "md: wall time". */
  name: string;
  value: number;
  unit: 'ms' | 'MB' | 'KB' | 'rows' | 'rows/s' | 'bytes';
  /** The goal is met when the value is at most `max` (or at least `min`); without either, the figure only informs. */
  max?: number;
  min?: number;
  note?: string;
}

export interface BenchContext {
  /** A temp folder for this case, removed afterwards. */
  workDir: string;
  /** The built CLI, `dist/src/cli.js`. */
  cli: string;
  /** Progress lines for the terminal (not the results file). */
  log(line: string): void;
}

export interface BenchCase {
  name: string;
  /** One line for the results file: what the case does. */
  summary: string;
  run(ctx: BenchContext): Promise<Figure[]>;
}

export function goalText(f: Figure): string {
  if (f.max !== undefined) return `< ${f.max} ${f.unit}`;
  if (f.min !== undefined) return `≥ ${f.min} ${f.unit}`;
  return '—';
}

export function goalMet(f: Figure): boolean | undefined {
  if (f.max !== undefined) return f.value < f.max;
  if (f.min !== undefined) return f.value >= f.min;
  return undefined;
}
