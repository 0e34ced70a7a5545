// Configuration from an injected environment (docs/configuration.md): every problem is reported at once.
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { parseDatabaseUrl, redactDatabaseUrl, type PostgresTarget } from './storage/postgres/database-url.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const url = (what: string) =>
  z.string().refine((v) => /^https?:\/\/[^\s]+$/.test(v) && URL.canParse(v), {
    error: `must be an http(s) URL for ${what}`,
  });

/** Whole seconds in [min, max]; blank or unset is `fallback`. */
const seconds = (fallback: number, min: number, max: number, message: string) =>
  optionalText.pipe(
    z
      .string()
      .default(String(fallback))
      .refine((v) => /^\d{1,6}$/.test(v) && Number(v) >= min && Number(v) <= max, { error: message })
      .transform(Number),
  );

/** A replica silent for longer is dead: more than two beats, so one late beat is never taken for a death. */
const REPLICA_TIMEOUT_RULE = 'must be an integer number of seconds ≥ 3 (at most 86400) and more than twice EDGEOPS_REPLICA_HEARTBEAT_SECONDS';

export const EnvSchema = z.object({
  PORT: z
    .string()
    .default('3000')
    .refine((v) => /^\d+$/.test(v) && Number(v) <= 65535, { error: 'must be a port number 0-65535' })
    .transform(Number),
  HOST: z.string().min(1, 'must not be empty').default('127.0.0.1'),
  EDGEOPS_DB: z.string().min(1, 'must not be empty').default('./data/edgeops.db'),
  // Checked below, where the URL can be shown with its password masked.
  EDGEOPS_DATABASE_URL: optionalText,
  EDGEOPS_REPLICA_HEARTBEAT_SECONDS: seconds(5, 1, 3600, 'must be an integer number of seconds from 1 to 3600'),
  EDGEOPS_REPLICA_TIMEOUT_SECONDS: seconds(30, 3, 86_400, REPLICA_TIMEOUT_RULE),
  EDGEOPS_POLICIES: z.string().min(1, 'must not be empty').default('./policies'),
  EDGEOPS_COMMANDS: z.string().min(1, 'must not be empty').default('./commands'),
  EDGEOPS_AUDIT_KEY: optionalText.refine((v) => v === undefined || v.length >= 32, {
    error: 'must be at least 32 characters (e.g. `openssl rand -hex 32`)',
  }),
  EDGEOPS_PUBLIC_URL: optionalText.pipe(url('links the bot posts').optional()),
  SLACK_SIGNING_SECRET: z.string().optional(),
  SLACK_BOT_TOKEN: z.string().optional(),
  SLACK_APP_TOKEN: z.string().optional(),
  SLACK_CLIENT_ID: optionalText,
  SLACK_CLIENT_SECRET: optionalText,
  SLACK_API_URL: url('the Slack Web API').default('https://slack.com/api/'),
  EDGEOPS_SLACK_CHANNEL_PACE_MS: optionalText.pipe(
    z
      .string()
      .default('1000')
      .refine((v) => /^\d{1,5}$/.test(v) && Number(v) <= 60_000, { error: 'must be an integer number of milliseconds from 0 to 60000' })
      .transform(Number),
  ),
  SLACK_TEAM_ID: optionalText.refine((v) => v === undefined || /^[TE][A-Z0-9]+$/.test(v), {
    error: 'must be a Slack team ID such as T0123ABCD',
  }),
  PAGERDUTY_WEBHOOK_SECRETS: optionalText,
  PAGERDUTY_API_TOKEN: optionalText,
  PAGERDUTY_API_URL: url('the PagerDuty REST API').default('https://api.pagerduty.com'),
  PAGERDUTY_FROM: optionalText.refine((v) => v === undefined || /^[^@\s]+@[^@\s]+$/.test(v), {
    error: 'must be an e-mail address',
  }),
  EDGEOPS_AUDIT_ANCHOR_CHANNEL: optionalText.refine((v) => v === undefined || /^[CG][A-Z0-9]{2,}$/.test(v), {
    error: "must be a Slack channel ID such as C0123ABCD (the channel's ID from its details, not its #name)",
  }),
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  EDGEOPS_STEP_USER: optionalText.transform((v, ctx): StepUserSpec | undefined => {
    if (v === undefined) return undefined;
    const ids = /^(\d{1,10}):(\d{1,10})$/.exec(v);
    if (ids) {
      const [uid, gid] = [Number(ids[1]), Number(ids[2])];
      if (uid === 0 || gid === 0) {
        ctx.addIssue({
          code: 'custom',
          message: 'must not be root (uid or gid 0): steps would keep every power of the bot; use e.g. edgeops-step or 65534:65534',
        });
        return z.NEVER;
      }
      return { uid, gid };
    }
    if (/^[a-z_][a-z0-9_-]{0,31}\$?$/i.test(v)) return { name: v };
    ctx.addIssue({ code: 'custom', message: 'must be a user name (e.g. edgeops-step) or uid:gid (e.g. 65534:65534)' });
    return z.NEVER;
  }),
});

/** Who steps run as: a user name (looked up at start) or numeric ids. */
export type StepUserSpec = { name: string } | { uid: number; gid: number };

export interface SlackConfig {
  signingSecret: string;
  botToken: string;
  appToken: string | undefined;
  apiUrl: string;
  teamId: string | undefined;
}

export interface Config {
  port: number;
  host: string;
  dbPath: string;
  /** Set by EDGEOPS_DATABASE_URL: PostgreSQL instead of the SQLite file at `dbPath` (docs/configuration.md). */
  postgres: PostgresTarget | undefined;
  /** With PostgreSQL: how often each replica beats, and after how long silent it is taken for dead (docs/configuration.md). */
  replicas: { heartbeatMs: number; timeoutMs: number };
  dataDir: string;
  policiesDir: string;
  commandsDir: string;
  auditKey: string | undefined;
  publicUrl: string;
  slack: SlackConfig | undefined;
  /** Least time between two posts into one Slack channel (EDGEOPS_SLACK_CHANNEL_PACE_MS; 0: no pace of ours, 429s still honoured). */
  slackChannelPaceMs: number;
  pagerduty: {
    webhookSecrets: string[];
    apiToken: string | undefined;
    apiUrl: string;
    from: string | undefined;
  };
  /** Slack channel the chain head is posted to once a day (with Slack configured). */
  auditAnchorChannel: string | undefined;
  logLevel: (typeof LOG_LEVELS)[number];
  /** When set, every step runs as this OS user instead of the bot's own (see the README). */
  stepUser: StepUserSpec | undefined;
  /** "Sign in with Slack" for the ops portal: both SLACK_CLIENT_ID and SLACK_CLIENT_SECRET set (docs/portal.md). */
  slackSignIn: { clientId: string; clientSecret: string; apiUrl: string; teamId: string | undefined } | undefined;
}

export type Env = Record<string, string | undefined>;

/** True when the environment asks for Slack at all (even with empty values: that is a mistake to report). */
export function slackRequested(env: Env): boolean {
  return env.SLACK_BOT_TOKEN !== undefined || env.SLACK_APP_TOKEN !== undefined;
}

/**
 * Parses the environment. `requireServeSecrets` is set for `edgeops serve` with Slack, where an
 * unset audit key or signing secret would run the bot unsafely.
 */
export function loadConfig(env: Env, options: { cwd?: string } = {}): Config {
  const cwd = options.cwd ?? process.cwd();
  const problems: string[] = [];
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0] ?? 'environment');
      problems.push(`${name}: ${issue.message}${valueHint(name, env[name])}`);
    }
  }

  const slackWanted = slackRequested(env);
  if (slackWanted) {
    if (!env.SLACK_BOT_TOKEN?.trim()) problems.push('SLACK_BOT_TOKEN: required when Slack is configured (xoxb-…)');
    else if (!env.SLACK_BOT_TOKEN.trim().startsWith('xoxb-')) problems.push('SLACK_BOT_TOKEN: must start with xoxb-');
    if (!env.SLACK_SIGNING_SECRET?.trim())
      problems.push('SLACK_SIGNING_SECRET: required when Slack is configured; requests cannot be verified without it');
    if (env.SLACK_APP_TOKEN !== undefined && !env.SLACK_APP_TOKEN.trim().startsWith('xapp-'))
      problems.push('SLACK_APP_TOKEN: must start with xapp- (or be unset for HTTP mode)');
    if (!env.EDGEOPS_AUDIT_KEY?.trim())
      problems.push('EDGEOPS_AUDIT_KEY: required when serving Slack (at least 32 characters, e.g. `openssl rand -hex 32`)');
  }

  const databaseUrl = parsed.success ? parsed.data.EDGEOPS_DATABASE_URL : undefined;
  const postgres = databaseUrl === undefined ? undefined : parseDatabaseUrl(databaseUrl);
  if (postgres && !postgres.ok) problems.push(...postgres.problems.map((p) => `EDGEOPS_DATABASE_URL: ${p}`));

  if (parsed.success && parsed.data.EDGEOPS_REPLICA_TIMEOUT_SECONDS <= 2 * parsed.data.EDGEOPS_REPLICA_HEARTBEAT_SECONDS) {
    const { EDGEOPS_REPLICA_TIMEOUT_SECONDS: timeout, EDGEOPS_REPLICA_HEARTBEAT_SECONDS: beat } = parsed.data;
    problems.push(`EDGEOPS_REPLICA_TIMEOUT_SECONDS: ${REPLICA_TIMEOUT_RULE} (got ${timeout} with a heartbeat of ${beat})`);
  }

  if (Boolean(env.SLACK_CLIENT_ID?.trim()) !== Boolean(env.SLACK_CLIENT_SECRET?.trim()))
    problems.push('SLACK_CLIENT_ID and SLACK_CLIENT_SECRET: set both for "Sign in with Slack" on the portal, or neither');
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  const e = parsed.data;
  const dbPath = path.resolve(cwd, e.EDGEOPS_DB);
  return {
    port: e.PORT,
    host: e.HOST,
    dbPath,
    postgres: postgres?.ok ? postgres.target : undefined,
    replicas: { heartbeatMs: e.EDGEOPS_REPLICA_HEARTBEAT_SECONDS * 1000, timeoutMs: e.EDGEOPS_REPLICA_TIMEOUT_SECONDS * 1000 },
    dataDir: path.dirname(dbPath),
    policiesDir: path.resolve(cwd, e.EDGEOPS_POLICIES),
    commandsDir: path.resolve(cwd, e.EDGEOPS_COMMANDS),
    auditKey: e.EDGEOPS_AUDIT_KEY,
    publicUrl: e.EDGEOPS_PUBLIC_URL ?? `http://${e.HOST}:${e.PORT}`,
    slack: slackWanted
      ? {
          signingSecret: env.SLACK_SIGNING_SECRET!.trim(),
          botToken: env.SLACK_BOT_TOKEN!.trim(),
          appToken: env.SLACK_APP_TOKEN?.trim() || undefined,
          apiUrl: e.SLACK_API_URL,
          teamId: e.SLACK_TEAM_ID,
        }
      : undefined,
    slackChannelPaceMs: e.EDGEOPS_SLACK_CHANNEL_PACE_MS,
    pagerduty: {
      webhookSecrets: (e.PAGERDUTY_WEBHOOK_SECRETS ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
      apiToken: e.PAGERDUTY_API_TOKEN,
      apiUrl: e.PAGERDUTY_API_URL.replace(/\/+$/, ''),
      from: e.PAGERDUTY_FROM,
    },
    auditAnchorChannel: e.EDGEOPS_AUDIT_ANCHOR_CHANNEL,
    logLevel: e.LOG_LEVEL,
    stepUser: e.EDGEOPS_STEP_USER,
    slackSignIn:
      e.SLACK_CLIENT_ID && e.SLACK_CLIENT_SECRET
        ? { clientId: e.SLACK_CLIENT_ID, clientSecret: e.SLACK_CLIENT_SECRET, apiUrl: e.SLACK_API_URL, teamId: e.SLACK_TEAM_ID }
        : undefined,
  };
}

/** Variables holding the bot's credentials, set in its environment even where this mode does not use them. */
export const CREDENTIAL_VARIABLES = [
  'SLACK_SIGNING_SECRET',
  'SLACK_BOT_TOKEN',
  'SLACK_APP_TOKEN',
  'SLACK_CLIENT_SECRET',
  'PAGERDUTY_API_TOKEN',
  'PAGERDUTY_WEBHOOK_SECRETS',
  'EDGEOPS_AUDIT_KEY',
] as const;

/**
 * The bot's own credentials: the Slack signing secret and tokens, the PagerDuty token and webhook
 * secrets, the audit key, from the configuration and (when given) the environment. Whatever a
 * step prints is masked for them, however it got hold of them. `auditKey` is the key in use
 * (local mode may have generated it).
 */
export function botCredentials(
  config: Pick<Config, 'slack' | 'pagerduty' | 'auditKey'> & Partial<Pick<Config, 'postgres' | 'slackSignIn'>>,
  options: { env?: Env; auditKey?: string } = {},
): string[] {
  const fromEnv = CREDENTIAL_VARIABLES.flatMap((name) => {
    const value = options.env?.[name]?.trim();
    if (!value) return [];
    return name === 'PAGERDUTY_WEBHOOK_SECRETS' ? value.split(',').map((s) => s.trim()) : [value];
  });
  const values = [
    config.slack?.signingSecret,
    config.slack?.botToken,
    config.slack?.appToken,
    config.pagerduty.apiToken,
    config.slackSignIn?.clientSecret,
    ...config.pagerduty.webhookSecrets,
    config.auditKey,
    options.auditKey,
    config.postgres?.password,
    ...fromEnv,
  ];
  return [...new Set(values.filter((v): v is string => v !== undefined && v !== ''))];
}

const SECRET_NAMES = /SECRET|TOKEN|KEY/;

function valueHint(name: string, value: string | undefined): string {
  if (value === undefined || SECRET_NAMES.test(name)) return '';
  if (name === 'EDGEOPS_DATABASE_URL') return ` (got ${JSON.stringify(redactDatabaseUrl(value))})`;
  return ` (got ${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)})`;
}
