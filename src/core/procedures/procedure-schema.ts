// The procedure file format (docs/procedures.md): one procedure per `commands/<name>.yaml`, strict keys.
import { z } from 'zod';
import { parseDuration } from '../duration.js';

export const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const PARAM_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

const duration = z.union([z.string(), z.number().int().positive()]).transform((v, ctx) => {
  const ms = typeof v === 'number' ? v * 1000 : parseDuration(v);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration; write e.g. 30s, 5m, 1h` });
    return z.NEVER;
  }
  return ms;
});

/** A user-written regular expression; it always matches the whole value. */
const pattern = z.string().superRefine((p, ctx) => {
  try {
    new RegExp(`^(?:${p})$`, 'u');
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `pattern is not a valid regular expression: ${(err as Error).message}` });
  }
});

/** Variables edgeops reads itself: a procedure may never be handed them as a secret. */
export const RESERVED_ENV_PREFIXES = ['SLACK_', 'PAGERDUTY_', 'EDGEOPS_'] as const;
/** The one reserved-looking prefix kept for procedure secrets (see the README). */
export const SECRET_ENV_PREFIX = 'EDGEOPS_SECRET_';

/** True when `name` is (or may one day be) one of the bot's own settings or credentials. */
export function isBotVariable(name: string): boolean {
  if (name.startsWith(SECRET_ENV_PREFIX)) return false;
  return RESERVED_ENV_PREFIXES.some((prefix) => name.startsWith(prefix));
}

const common = {
  description: z.string().optional(),
  required: z.boolean().default(false),
};

/**
 * May a value of this param begin an argv element with `-`? Off by default: such an element is
 * read as an option by nearly every program. Only types whose values can start with `-` have it.
 */
const allowLeadingDash = { allow_leading_dash: z.boolean().optional() };

const ParamUnionSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('string'),
    ...common,
    ...allowLeadingDash,
    pattern: pattern.optional(),
    max_length: z.number().int().positive().max(65536).default(256),
    default: z.string().optional(),
  }),
  z.strictObject({
    type: z.literal('int'),
    ...common,
    ...allowLeadingDash,
    min: z.number().int().optional(),
    max: z.number().int().optional(),
    default: z.number().int().optional(),
  }),
  z.strictObject({ type: z.literal('bool'), ...common, default: z.boolean().optional() }),
  z.strictObject({
    type: z.literal('enum'),
    ...common,
    ...allowLeadingDash,
    values: z.array(z.string().min(1)).min(1),
    default: z.string().optional(),
  }),
  z.strictObject({
    type: z.literal('duration'),
    ...common,
    min: duration.optional(),
    max: duration.optional(),
    default: z.string().optional(),
  }),
  z.strictObject({
    type: z.literal('secret'),
    description: z.string().optional(),
    /** The bot's environment variable that holds the value; never taken from chat. */
    env: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name such as API_TOKEN')
      .refine((name) => !isBotVariable(name), {
        error: `names a variable edgeops itself reads (${RESERVED_ENV_PREFIXES.map((p) => `${p}…`).join(', ')}), which would hand the bot's own credentials to a step; keep the value in a variable such as ${SECRET_ENV_PREFIX}API_TOKEN`,
      }),
    required: z.boolean().default(true),
  }),
]);

/** Why `allow_leading_dash` means nothing on the types without it, said instead of "unknown key". */
const NO_LEADING_DASH: Record<string, string> = {
  bool: 'a bool fills in as true or false, never starting with "-"',
  duration: 'a duration such as 30s never starts with "-"',
  secret: "a secret never fills an argument (pass it through the step's env:)",
};

function refuseMisplacedLeadingDash(input: unknown, ctx: z.core.$RefinementCtx): unknown {
  if (input === null || typeof input !== 'object' || !Object.hasOwn(input, 'allow_leading_dash')) return input;
  const { type, allow_leading_dash: _, ...rest } = input as Record<string, unknown>;
  if (typeof type !== 'string' || !Object.hasOwn(NO_LEADING_DASH, type)) return input;
  ctx.addIssue({
    code: 'custom',
    path: ['allow_leading_dash'],
    input,
    message: `allow_leading_dash makes no sense on a ${type} parameter: ${NO_LEADING_DASH[type]}; remove it`,
  });
  return { type, ...rest };
}

export const ParamSchema = z.preprocess<unknown, typeof ParamUnionSchema, z.input<typeof ParamUnionSchema>>(refuseMisplacedLeadingDash, ParamUnionSchema);
export type ParamDef = z.infer<typeof ParamSchema>;

const HttpSchema = z.strictObject({
  method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']).default('GET'),
  url: z.string().min(1),
  headers: z.record(z.string(), z.string()).default({}),
  body: z.string().optional(),
  expect_status: z.union([z.number().int(), z.array(z.number().int()).min(1)]).default(200),
});

export const StepSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 _.-]{0,62}$/, 'step names are letters, digits, space, _ . -'),
    run: z.array(z.string()).min(1, 'run needs at least the program').optional(),
    http: HttpSchema.optional(),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'env names are A-Z, 0-9, _'), z.string()).default({}),
    timeout: duration.optional(),
    on_error: z.enum(['abort', 'continue']).default('abort'),
  })
  .superRefine((step, ctx) => {
    if ((step.run === undefined) === (step.http === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'a step has exactly one of `run` (argv) or `http`' });
    }
  });
export type Step = z.infer<typeof StepSchema>;

export const TriggerSchema = z.strictObject({
  pagerduty: z.strictObject({
    event: z.string().regex(/^[a-z_]+\.[a-z_]+$/, 'an event type such as incident.triggered'),
    service: z.string().min(1).default('*'),
  }),
  env: z.string().optional(),
  with: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
});
export type Trigger = z.infer<typeof TriggerSchema>;

/** A run on a timetable, as the `scheduler` principal (cron in UTC; checked by the catalog). */
export const ScheduleSchema = z.strictObject({
  cron: z.string().min(1),
  env: z.string().optional(),
  with: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
  /** Where results are posted (a Slack channel ID); none: recorded on the audit log only. */
  channel: z
    .string()
    .regex(/^[CG][A-Z0-9]{2,}$/, 'a Slack channel ID such as C0123ABCD')
    .optional(),
});
export type Schedule = z.infer<typeof ScheduleSchema>;

export const ProcedureSchema = z.strictObject({
  name: z.string().regex(NAME, 'names are lowercase letters, digits and -'),
  description: z.string().min(1),
  owner: z.string().min(1),
  environments: z.array(z.string().regex(/^[a-z0-9][a-z0-9-]*$/)).min(1),
  timeout: duration.default(600_000),
  concurrency: z.string().min(1).optional(),
  params: z.record(z.string().regex(PARAM_NAME, 'parameter names are lowercase letters, digits and _'), ParamSchema).default({}),
  steps: z.array(StepSchema).min(1),
  triggers: z.array(TriggerSchema).default([]),
  schedule: z.array(ScheduleSchema).default([]),
});
export type Procedure = z.infer<typeof ProcedureSchema>;
export type ProcedureInput = z.input<typeof ProcedureSchema>;
