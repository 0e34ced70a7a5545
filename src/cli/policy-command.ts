// `edgeops policy explain …`: the decision for one request and every rule that matched, in words.
import { parseArgs } from 'node:util';
import { loadCatalog } from '../catalog/load-catalog.js';
import { explainDecision } from '../core/policy/explain.js';
import { decide, type PolicyRequest, type Subject } from '../core/policy/policy-engine.js';
import { ACTIONS, GROUP_ID, isAction, isProcedureAction, USER_ID } from '../core/policy/policy-schema.js';
import { write, type Subcommand } from './cli-io.js';
import { catalogDirs, formatFinding } from './validate-command.js';

const USAGE =
  'usage: edgeops policy explain --user U… [--groups S…,S…] [--pagerduty-service NAME] --procedure NAME --env ENV ' +
  '[--action run] [--channel C…] [--policies DIR] [--commands DIR]';

/** Exit codes callers script against: allowed, allowed only with approval, denied. */
export const EXPLAIN_EXIT = { allow: 0, approval_required: 2, deny: 3 } as const;

const CHANNEL_ID = /^[CGD][A-Z0-9]{2,}$/;

export const policyCommand: Subcommand = async (argv, io) => {
  const fail = (reason: string): number => {
    write(io.stderr, `edgeops policy: ${reason}`);
    return 1;
  };
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        user: { type: 'string' },
        groups: { type: 'string' },
        'pagerduty-service': { type: 'string' },
        procedure: { type: 'string' },
        env: { type: 'string' },
        action: { type: 'string', default: 'run' },
        channel: { type: 'string' },
        policies: { type: 'string' },
        commands: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    return fail(`${(err as Error).message}; ${USAGE}`);
  }
  const { values: v, positionals } = parsed;
  if (v.help) {
    write(io.stdout, USAGE);
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] !== 'explain') return fail(USAGE);

  const action = v.action;
  if (!isAction(action)) return fail(`unknown action "${action}"; actions are ${ACTIONS.join(', ')}`);
  const service = v['pagerduty-service']?.trim();
  if (v.user === undefined && !service) return fail('--user U… is required (or --pagerduty-service NAME for a PagerDuty-triggered run)');
  if (v.user !== undefined && !USER_ID.test(v.user)) return fail(`--user must be a Slack user ID such as U0123ABCD, not "${v.user}"`);
  const groups = (v.groups ?? '')
    .split(',')
    .map((g) => g.trim())
    .filter((g) => g !== '');
  const badGroup = groups.find((g) => !GROUP_ID.test(g));
  if (badGroup !== undefined) return fail(`--groups takes Slack user-group IDs such as S0123ABCD, not "${badGroup}"`);
  if (v.channel !== undefined && !CHANNEL_ID.test(v.channel)) return fail(`--channel must be a Slack channel ID such as C0123ABCD, not "${v.channel}"`);

  const procedureAction = isProcedureAction(action);
  if (procedureAction && (v.procedure === undefined || v.env === undefined)) {
    return fail(`${action} needs --procedure NAME and --env ENV`);
  }
  if (!procedureAction && (v.procedure !== undefined || v.env !== undefined)) {
    return fail(`${action} is an incident action; it takes no --procedure or --env`);
  }

  const result = loadCatalog(catalogDirs(io, { policies: v.policies, commands: v.commands }));
  if (!result.ok) {
    return fail(`the catalog is invalid (${result.errors.length} errors; first: ${formatFinding(io, result.errors[0]!)}); run edgeops validate`);
  }
  const { catalog } = result;
  if (procedureAction) {
    const procedure = catalog.procedures.get(v.procedure!);
    if (!procedure) {
      const known = [...catalog.procedures.keys()].sort().join(', ');
      return fail(`unknown procedure "${v.procedure}"${known ? `; known: ${known}` : ''}`);
    }
    if (!procedure.environments.includes(v.env!)) {
      return fail(`${procedure.name} does not run in "${v.env}"; its environments are ${procedure.environments.join(', ')}`);
    }
  }

  const subject: Subject = {
    userId: v.user ?? `pagerduty:${service}`,
    groups,
    ...(service ? { pagerdutyService: service } : {}),
  };
  const request: PolicyRequest = {
    subject,
    action,
    ...(v.procedure !== undefined ? { procedure: v.procedure } : {}),
    ...(v.env !== undefined ? { environment: v.env } : {}),
    ...(v.channel !== undefined ? { channel: v.channel } : {}),
  };
  const decision = decide(catalog.policy, request);
  io.stdout.write(explainDecision(request, decision));
  write(io.stdout, `policy sha256 ${catalog.policyHash}`);
  return EXPLAIN_EXIT[decision.effect];
};
