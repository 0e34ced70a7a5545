// The policy file format (docs/policy.md): roles, allow/deny rules and approval requirements, strict keys.
import { z } from 'zod';
import { parseDuration } from '../duration.js';
import { globMatch, isGlob } from './glob.js';
import { USER_ID } from '../user-id.js';

/** Actions on a procedure; a rule naming procedures or environments only ever matches these. */
export const PROCEDURE_ACTIONS = ['run', 'dry-run', 'approve', 'cancel'] as const;
export const INCIDENT_ACTIONS = [
  'incident.declare',
  'incident.update',
  'incident.note',
  'incident.sev',
  'incident.role',
  'incident.ack',
  'incident.resolve',
  'incident.export',
  /** See an incident: list it, its timeline, its export, the status of its runs. */
  'incident.view',
  /** See private incidents one is not a member of (see docs: README, "Private incidents"). */
  'incident.view_private',
  'runbook.list',
  /** The status of a run; for a run in an incident, `incident.view` of that incident as well. */
  'runbook.status',
  /** See the audit chain's status in the portal (docs/portal.md). */
  'audit.view',
] as const;
export const ACTIONS = [...PROCEDURE_ACTIONS, ...INCIDENT_ACTIONS] as const;
export type ProcedureAction = (typeof PROCEDURE_ACTIONS)[number];
export type IncidentAction = (typeof INCIDENT_ACTIONS)[number];
export type Action = (typeof ACTIONS)[number];

export const isAction = (value: string): value is Action => (ACTIONS as readonly string[]).includes(value);
export const isProcedureAction = (value: string): value is ProcedureAction => (PROCEDURE_ACTIONS as readonly string[]).includes(value);

export const DEFAULT_APPROVAL_EXPIRES_MS = 15 * 60_000;

export const ROLE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export { USER_ID };
export const GROUP_ID = /^S[A-Z0-9]{2,}$/;
/** Public (C), private (G) and direct-message (D) conversation IDs, or a glob over them. */
const CHANNEL_PATTERN = /^(?:[CGD][A-Z0-9]{2,}|[A-Z0-9*]*\*[A-Z0-9*]*)$/;
const NAME_PATTERN = /^[a-z0-9*][a-z0-9*-]*$/;

const roleName = z.string().regex(ROLE_NAME, 'role names are lowercase letters, digits, - and _');
const roleRef = z.union([z.literal('*'), roleName], {
  error: 'a role name, or "*" for anyone holding any role',
});

const actionPattern = z.string().superRefine((value, ctx) => {
  const known = isGlob(value) ? ACTIONS.some((a) => globMatch(value, a)) : isAction(value);
  if (!known) {
    ctx.addIssue({
      code: 'custom',
      message: isGlob(value)
        ? `action pattern "${value}" matches no action (${ACTIONS.join(', ')})`
        : `unknown action "${value}"; actions are ${ACTIONS.join(', ')} (or a * glob)`,
    });
  }
});

const nonEmptyList = <T extends z.ZodType>(item: T, message: string) => z.array(item).min(1, message);
const narrowing = (what: string) => `${what} must list at least one entry; leave the key out to match any`;

const expires = z.union([z.string(), z.number().int().positive()]).transform((v, ctx) => {
  const ms = typeof v === 'number' ? v * 1000 : parseDuration(v);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration; write e.g. 10m, 1h` });
    return z.NEVER;
  }
  return ms;
});

export const ApprovalSchema = z.strictObject({
  roles: z.array(roleRef).min(1, 'approval needs at least one role that may approve'),
  count: z.number().int().min(1).max(10).default(1),
  /** Milliseconds after the request within which approvals must arrive. */
  expires: expires.default(DEFAULT_APPROVAL_EXPIRES_MS),
});
export type ApprovalSpec = z.infer<typeof ApprovalSchema>;

export const RoleSchema = z.strictObject({
  users: z.array(z.string().regex(USER_ID, 'users are Slack user IDs (U… or W…), never display names')).optional(),
  groups: z.array(z.string().regex(GROUP_ID, 'groups are Slack user-group IDs (S…), never handles')).optional(),
  pagerduty_services: z.array(z.string().min(1)).optional(),
  /** Held by the `scheduler` principal, which runs procedures on their `schedule:`. */
  scheduler: z.literal(true, { error: 'scheduler: true makes scheduled runs hold this role; leave it out otherwise' }).optional(),
});
export type RoleSpec = z.infer<typeof RoleSchema>;

export const RuleSchema = z
  .strictObject({
    roles: z.array(roleRef).min(1, 'a rule names at least one role (or "*")'),
    allow: nonEmptyList(actionPattern, 'allow must list at least one action').optional(),
    deny: nonEmptyList(actionPattern, 'deny must list at least one action').optional(),
    procedures: nonEmptyList(
      z.string().regex(NAME_PATTERN, 'procedure patterns are names (lowercase, digits, -) or * globs'),
      narrowing('procedures'),
    ).optional(),
    environments: nonEmptyList(
      z.string().regex(NAME_PATTERN, 'environment patterns are names (lowercase, digits, -) or * globs'),
      narrowing('environments'),
    ).optional(),
    channels: nonEmptyList(
      z.string().regex(CHANNEL_PATTERN, 'channels are Slack channel IDs (C…, G…) or * globs, never #names'),
      narrowing('channels'),
    ).optional(),
    approval: ApprovalSchema.optional(),
  })
  .superRefine((rule, ctx) => {
    if ((rule.allow === undefined) === (rule.deny === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'a rule has exactly one of `allow` or `deny`' });
    }
    if (rule.approval !== undefined && rule.deny !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['approval'], message: '`approval` only belongs on an `allow` rule' });
    }
  });
export type RuleSpec = z.infer<typeof RuleSchema>;

const interval = z.union([z.literal('off'), expires]);

/** When the bot nudges an incident channel; set in one policy file at most. */
export const RemindersSchema = z.strictObject({
  /** After how long without a status update, by severity (`off`: never). */
  status_update: z
    .strictObject({ sev1: interval.optional(), sev2: interval.optional(), sev3: interval.optional(), sev4: interval.optional() })
    .default({}),
  /** After how long an incident without a human commander is reminded to assign one. */
  commander: interval.optional(),
});
export type RemindersSpec = z.infer<typeof RemindersSchema>;

export const PolicyFileSchema = z.strictObject({
  version: z.literal(1, { error: 'must be 1 (the only policy format so far)' }),
  roles: z.record(roleName, RoleSchema).default({}),
  rules: z.array(RuleSchema).default([]),
  reminders: RemindersSchema.optional(),
});
export type PolicyFile = z.infer<typeof PolicyFileSchema>;
export type PolicyFileInput = z.input<typeof PolicyFileSchema>;
