// The one step line and the one duration formatter every surface uses.
import { describe, expect, it } from 'vitest';
import { formatDuration } from '../../../src/core/duration.js';
import { stepStatus, stepSummary } from '../../../src/core/runs/step-summary.js';

const T0 = 1_780_000_000_000;

describe('formatDuration', () => {
  it('writes limits losslessly, as files and commands take them', () => {
    expect([3_600_000, 5_400_000, 90_000, 65_000, 1_500].map((ms) => formatDuration(ms))).toEqual(['1h', '90m', '90s', '65s', '1500ms']);
  });

  it('writes elapsed time rounded to the second, as people read it', () => {
    expect([0, 499, 4_400, 65_000, 900_000, 3_900_000, -5].map((ms) => formatDuration(ms, 'elapsed'))).toEqual([
      '0s',
      '0s',
      '4s',
      '1m 05s',
      '15m 00s',
      '1h 05m',
      '0s',
    ]);
  });
});

describe('stepSummary', () => {
  const processStep = {
    name: 'space',
    kind: 'run' as const,
    outcome: 'timed_out',
    exitCode: null,
    httpStatus: null,
    startedAt: T0,
    finishedAt: T0 + 65_000,
    error: 'timed out after 1m',
  };
  const httpStep = { name: 'probe', kind: 'http' as const, outcome: 'failed', exitCode: null, httpStatus: 503, durationMs: 2_000 };

  it('gives a program its exit code and an HTTP step its status', () => {
    expect(stepStatus({ ...processStep, exitCode: 2 })).toBe('exit 2');
    expect(stepStatus(processStep)).toBe('exit —');
    expect(stepStatus(httpStep)).toBe('HTTP 503');
    expect(stepStatus({ ...httpStep, httpStatus: null })).toBe('HTTP —');
  });

  it('says name, outcome, status, duration and error in one line', () => {
    expect(stepSummary(processStep)).toBe('space: timed_out (exit —, 1m 05s) — timed out after 1m');
    expect(stepSummary(httpStep)).toBe('probe: failed (HTTP 503, 2s)');
    expect(stepSummary({ ...httpStep, durationMs: null })).toBe('probe: failed (HTTP 503, —)');
  });

  it('leaves out what a surface does not show', () => {
    expect(stepSummary(processStep, { error: false, spacedOutcome: true })).toBe('space: timed out (exit —, 1m 05s)');
    expect(stepSummary(processStep, { duration: false, error: false })).toBe('space: timed_out (exit —)');
  });
});
