// A run's steps as the postmortem export shows them, read back from SQLite: an HTTP step has a status, not an exit code.
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderHtml, renderJson, renderMarkdown, renderToString } from '../../../src/core/export/transcript.js';
import type { Incident } from '../../../src/core/incidents/incident.js';
import type { Run, RunStepRecord } from '../../../src/core/runs/run.js';
import { SqliteRunStore } from '../../../src/storage/sqlite-run-store.js';
import { Store } from '../../../src/storage/store.js';
import { transcriptRuns, transcriptSource } from '../../../src/storage/transcript-source.js';
import { makeTempDir, removeTempDirs } from '../../helpers/temp-dir.js';

const KEY = 'k'.repeat(64);
const T0 = Date.parse('2026-05-01T09:00:00Z');

let store: Store;

beforeEach(() => {
  store = Store.create({ file: path.join(makeTempDir('transcript-steps'), 'edgeops.db'), auditKey: KEY, clock: { now: () => T0 } });
});

afterEach(() => {
  store.close();
  removeTempDirs();
});

const incident: Incident = {
  id: 'INC-1',
  number: 1,
  title: 'Checkout is down',
  severity: 2,
  status: 'investigating',
  service: 'checkout',
  private: false,
  channelName: 'inc-1-checkout-is-down',
  channelId: null,
  roles: { commander: 'U0ONCALL1', comms: null, scribe: null },
  declaredBy: 'U0ONCALL1',
  declaredAt: T0,
  acknowledgedAt: null,
  resolvedAt: null,
  summary: null,
  pagerdutyId: null,
  pagerdutyUrl: null,
  lastUpdateAt: T0,
};

const run: Run = {
  id: 'R-1',
  number: 1,
  procedure: 'check-health',
  environment: 'prod',
  incidentId: 'INC-1',
  channel: null,
  requestedBy: 'U0ONCALL1',
  requestedGroups: [],
  source: 'slack',
  params: {},
  binding: 'b'.repeat(64),
  state: 'failed',
  approval: null,
  approvalExpiresAt: null,
  concurrencyKey: 'check-health-prod',
  createdAt: T0,
  startedAt: T0,
  finishedAt: T0 + 3_000,
  pgid: null,
  ownerPid: null,
  error: null,
};

const step = (over: Partial<RunStepRecord>): RunStepRecord => ({
  runId: 'R-1',
  index: 0,
  name: 'space',
  kind: 'run',
  outcome: 'succeeded',
  exitCode: 0,
  httpStatus: null,
  startedAt: T0,
  finishedAt: T0 + 1_000,
  output: '',
  truncatedBytes: 0,
  error: null,
  ...over,
});

async function exported(render: typeof renderMarkdown): Promise<string> {
  await store.incidents.insert(incident);
  const runs = new SqliteRunStore(store.db);
  await runs.insert(run);
  await runs.saveStep(step({}));
  await runs.saveStep(
    step({ index: 1, name: 'probe', kind: 'http', outcome: 'failed', exitCode: null, httpStatus: 503, startedAt: T0 + 1_000, finishedAt: T0 + 3_000 }),
  );
  return renderToString(render, await transcriptSource(store, 'INC-1', (id) => transcriptRuns(runs, id)));
}

describe('steps in the postmortem export', () => {
  it('Markdown shows an HTTP step with its HTTP status and a program step with its exit code', async () => {
    const md = await exported(renderMarkdown);
    expect(md).toContain('#### Step space: succeeded, exit 0, 1s\n');
    expect(md).toContain('#### Step probe: failed, HTTP 503, 2s\n');
    expect(md).not.toContain('exit 503');
  });

  it('HTML shows an HTTP step with its HTTP status and a program step with its exit code', async () => {
    const html = await exported(renderHtml);
    expect(html).toContain('<h4>Step space: succeeded, exit 0</h4>');
    expect(html).toContain('<h4>Step probe: failed, HTTP 503</h4>');
    expect(html).not.toContain('exit 503');
  });

  it('JSON gives an HTTP step its status as httpStatus and no exit code', async () => {
    const steps = (JSON.parse(await exported(renderJson)) as { runs: Array<{ steps: unknown[] }> }).runs[0]!.steps;
    expect(steps).toEqual([
      { name: 'space', outcome: 'succeeded', exitCode: 0, durationMs: 1_000, outputExcerpt: '' },
      { name: 'probe', outcome: 'failed', kind: 'http', exitCode: null, httpStatus: 503, durationMs: 2_000, outputExcerpt: '' },
    ]);
  });
});
