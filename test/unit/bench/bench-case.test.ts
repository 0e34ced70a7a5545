import { describe, expect, it } from 'vitest';
import { goalMet, goalText, metText, type Figure } from '../../../bench/bench-case.js';

/** The ack case's p99 as it was once reported: far inside the absolute cap, above the ratio goal. */
const ackP99 = (ratio: number): Figure => ({
  name: 'edgeops note: ack p99',
  value: 37,
  unit: 'ms',
  max: 3000,
  ratio: { of: "bare Bolt's p99", value: ratio, max: 1.3 },
});

describe('bench goals', () => {
  it('shows a ratio above its goal as not met, even with the absolute goal met', () => {
    expect(goalMet(ackP99(1.56))).toBe(false);
    expect(metText(ackP99(1.56))).toBe('NO');
  });

  it('shows a ratio at or below its goal as met when the absolute goal is met too', () => {
    expect(metText(ackP99(1.3))).toBe('yes');
    expect(metText(ackP99(0.9))).toBe('yes');
  });

  it('shows a figure as not met when its ratio holds but its absolute goal does not', () => {
    expect(metText({ ...ackP99(1.1), value: 3500 })).toBe('NO');
  });

  it('names both goals in the goal column', () => {
    expect(goalText(ackP99(1.56))).toBe("< 3000 ms and ≤ 1.3× bare Bolt's p99");
  });

  it('judges figures with only an absolute goal, or none, as before', () => {
    expect(metText({ name: 'wall', value: 597, unit: 'ms', max: 1000 })).toBe('yes');
    expect(metText({ name: 'rate', value: 1877.6, unit: 'rows/s', min: 2650 })).toBe('NO');
    expect(metText({ name: 'p50', value: 10, unit: 'ms' })).toBe('—');
    expect(goalText({ name: 'p50', value: 10, unit: 'ms' })).toBe('—');
  });
});
