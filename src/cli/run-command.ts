// `edgeops run NAME [key=value …] --env ENV --as U… [--groups S…] [--dry-run]`: a procedure from a terminal.
import { parseArgs } from 'node:util';
import { planText } from '../core/commands/runbook-commands.js';
import { formatDuration } from '../core/duration.js';
import { parseIncidentId } from '../core/incidents/incident.js';
import { describeApproval } from '../core/policy/policy.js';
import { stepSummary } from '../core/runs/step-summary.js';
import { USER_ID } from '../core/user-id.js';
import { NotAllowedError } from '../errors.js';
import { bootApp } from './bootstrap.js';
import { write, type Subcommand } from './cli-io.js';

export const EXIT = { succeeded: 0, failed: 1, pendingApproval: 2, denied: 3 } as const;

const USAGE = 'usage: edgeops run NAME [key=value …] --env ENV --as U… [--groups S…,S…] [--incident INC-n] [--dry-run]';

export const runCommand: Subcommand = async (argv, io) => {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      env: { type: 'string' },
      as: { type: 'string' },
      groups: { type: 'string', default: '' },
      incident: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  const [name, ...pairs] = positionals;
  if (!name || !values.as) {
    write(io.stderr, USAGE);
    return 1;
  }
  if (!USER_ID.test(values.as)) {
    write(io.stderr, `edgeops run: --as takes a Slack user ID such as U0123ABCD (got "${values.as}")`);
    return 1;
  }
  const groups = values.groups
    .split(',')
    .map((g) => g.trim())
    .filter(Boolean);
  const badGroup = groups.find((g) => !/^S[A-Z0-9]{2,}$/.test(g));
  if (badGroup) {
    write(io.stderr, `edgeops run: --groups takes user-group IDs such as S0123ABCD (got "${badGroup}")`);
    return 1;
  }
  const params: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      write(io.stderr, `edgeops run: parameters are key=value; "${pair}" is not`);
      return 1;
    }
    const key = pair.slice(0, eq);
    if (Object.hasOwn(params, key)) {
      write(io.stderr, `edgeops run: ${key}= is given twice`);
      return 1;
    }
    params[key] = pair.slice(eq + 1);
  }

  const booted = await bootApp(io, { generateKey: true, logTo: 'file', recoverRuns: true });
  const { app } = booted;
  try {
    const procedure = name;
    const as = values.as;
    const result = await (async () => {
      try {
        return await app.runs.request(
          { actor: { id: as, groups }, source: 'cli' },
          {
            procedure,
            params,
            ...(values.env === undefined ? {} : { environment: values.env }),
            incidentId: values.incident ? parseIncidentId(values.incident) : null,
            dryRun: values['dry-run'],
          },
        );
      } catch (err) {
        if (err instanceof NotAllowedError) return { kind: 'denied' as const, message: err.message };
        throw err;
      }
    })();
    if (result.kind === 'denied') {
      write(io.stderr, `denied: ${result.message}`);
      return EXIT.denied;
    }
    if (result.kind === 'dry-run') {
      write(io.stdout, planText(result.plan));
      return EXIT.succeeded;
    }
    const { run } = result;
    if (run.state === 'pending_approval') {
      write(io.stdout, `${run.id} pending_approval: needs ${describeApproval(run.approval!)}; approve with /runbook approve ${run.id}`);
      return EXIT.pendingApproval;
    }
    write(io.stdout, `${run.id} ${run.procedure} (${run.environment}) started`);
    const done = await result.done!;
    for (const step of await app.runs.steps(done.id)) {
      write(io.stdout, `--- step ${stepSummary(step)}`);
      if (step.output) io.stdout.write(step.output.endsWith('\n') ? step.output : `${step.output}\n`);
      if (step.truncatedBytes > 0) write(io.stdout, `(${step.truncatedBytes} bytes of output were dropped to keep 1 MB)`);
    }
    const took = done.startedAt !== null && done.finishedAt !== null ? ` in ${formatDuration(done.finishedAt - done.startedAt, 'elapsed')}` : '';
    write(io.stdout, `${done.id} ${done.state}${took}${done.error ? `: ${done.error}` : ''}`);
    return done.state === 'succeeded' ? EXIT.succeeded : EXIT.failed;
  } finally {
    await booted.close();
  }
};
