// Bench case: what the process-step runner adds to starting a program, against a bare child_process.spawn.
import { spawn } from 'node:child_process';
import { createProcessStepRunner } from '../src/adapters/steps/process-step.js';
import type { BenchCase, Figure } from './bench-case.js';

const PROGRAM = '/bin/true';
/** Timed spawns per side; the warm-up ones are not counted. */
const N = 300;
const WARMUP = 20;
const GOAL_RATIO = 1.2;

interface Stats {
  mean: number;
  p50: number;
  p99: number;
}

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { mean: samples.reduce((a, b) => a + b, 0) / samples.length, p50: at(0.5), p99: at(0.99) };
}

const ms = (x: number): string => `${x.toFixed(2)} ms`;
const round2 = (x: number): number => Math.round(x * 100) / 100;

/** The baseline: spawn, then wait for `close` (exit and every pipe closed), as the runner must too. */
function rawSpawn(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(PROGRAM);
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${PROGRAM} exited ${code}`))));
  });
}

export const spawnOverhead: BenchCase = {
  name: 'spawn-overhead',
  summary: `\`${PROGRAM}\` as a step through the process-step runner (own process group, output capture, group kill on exit) against a bare \`child_process.spawn\` awaiting \`close\`; ${N} of each, alternated ABBA so drift falls on both; goal: runner mean ≤ ${GOAL_RATIO}× raw`,
  async run(ctx) {
    const runStep = createProcessStepRunner({ commandsDir: ctx.workDir, baseEnv: process.env });
    let groups = 0;
    const viaRunner = async (): Promise<void> => {
      const r = await runStep({
        argv: [PROGRAM],
        timeoutMs: 10_000,
        onSpawn: () => {
          groups++;
        },
      });
      if (r.outcome !== 'succeeded') throw new Error(`${PROGRAM} as a step ended ${r.outcome}: ${r.error ?? ''}`);
    };
    const time = async (fn: () => Promise<void>, into: number[]): Promise<void> => {
      const started = performance.now();
      await fn();
      into.push(performance.now() - started);
    };

    for (let i = 0; i < WARMUP; i += 1) {
      await rawSpawn();
      await viaRunner();
    }
    const raw: number[] = [];
    const runner: number[] = [];
    // ABBA: each side goes first half the time, so neither always pays for the other's clean-up.
    for (let i = 0; i < N; i += 1) {
      if (i % 2 === 0) {
        await time(rawSpawn, raw);
        await time(viaRunner, runner);
      } else {
        await time(viaRunner, runner);
        await time(rawSpawn, raw);
      }
    }
    if (groups !== N + WARMUP) throw new Error(`expected ${N + WARMUP} process groups, saw ${groups}`);

    const r = stats(raw);
    const s = stats(runner);
    const ratio = s.mean / r.mean;
    ctx.log(`raw spawn:   mean ${ms(r.mean)}, p50 ${ms(r.p50)}, p99 ${ms(r.p99)}`);
    ctx.log(`step runner: mean ${ms(s.mean)}, p50 ${ms(s.p50)}, p99 ${ms(s.p99)}`);
    ctx.log(`ratio: mean ${ratio.toFixed(2)}×, p50 ${(s.p50 / r.p50).toFixed(2)}×, p99 ${(s.p99 / r.p99).toFixed(2)}× (goal: mean ≤ ${GOAL_RATIO}×)`);

    // Figures print whole milliseconds, so each carries its exact value in the note.
    const figure = (name: string, value: number, extra: Partial<Figure> = {}): Figure => ({ name, value, unit: 'ms', note: ms(value), ...extra });
    return [
      figure('raw spawn: mean', r.mean),
      figure('raw spawn: p50', r.p50),
      figure('raw spawn: p99', r.p99),
      figure('step runner: mean', s.mean, { max: round2(GOAL_RATIO * r.mean), note: `${ms(s.mean)}, ${ratio.toFixed(2)}× raw; goal ${GOAL_RATIO}× raw` }),
      figure('step runner: p50', s.p50, { note: `${ms(s.p50)}, ${(s.p50 / r.p50).toFixed(2)}× raw` }),
      figure('step runner: p99', s.p99, { note: `${ms(s.p99)}, ${(s.p99 / r.p99).toFixed(2)}× raw` }),
    ];
  },
};
