// What a bench case is: a named async function that returns figures, each with an optional goal.

export interface Figure {
  /** What was measured, e.g. "md: wall time". */
  name: string;
  value: number;
  unit: 'ms' | 'MB' | 'KB' | 'rows' | 'rows/s' | 'bytes';
  /** The goal is met when the value is at most `max` (or at least `min`); without either, the figure only informs. */
  max?: number;
  min?: number;
  /** A goal relative to another figure (a baseline measured alongside); judged as a ratio, with any absolute goal. */
  ratio?: RatioGoal;
  note?: string;
}

/** "At most `max` times the baseline": met only when `value` (this figure ÷ the baseline) is at most `max`. */
export interface RatioGoal {
  /** What the figure is divided by, in words: "bare Bolt's p99". */
  of: string;
  value: number;
  max: number;
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
  /** What profiling found about where the time goes, kept in the results file under the table. */
  notes?: readonly string[];
  run(ctx: BenchContext): Promise<Figure[]>;
}

export function goalText(f: Figure): string {
  const goals: string[] = [];
  if (f.max !== undefined) goals.push(`< ${f.max} ${f.unit}`);
  else if (f.min !== undefined) goals.push(`≥ ${f.min} ${f.unit}`);
  if (f.ratio) goals.push(`≤ ${f.ratio.max}× ${f.ratio.of}`);
  return goals.length > 0 ? goals.join(' and ') : '—';
}

/** Met only when every goal the figure has is met; undefined when it has none. */
export function goalMet(f: Figure): boolean | undefined {
  const verdicts: boolean[] = [];
  if (f.max !== undefined) verdicts.push(f.value < f.max);
  else if (f.min !== undefined) verdicts.push(f.value >= f.min);
  // A ratio goal is judged on the ratio: an absolute goal met by a wide margin says nothing about it.
  if (f.ratio) verdicts.push(f.ratio.value <= f.ratio.max);
  return verdicts.length > 0 ? verdicts.every(Boolean) : undefined;
}

/** The results table's "met?" cell. */
export function metText(f: Figure): string {
  const met = goalMet(f);
  return met === undefined ? '—' : met ? 'yes' : 'NO';
}
