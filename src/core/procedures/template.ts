// Fills `{{…}}` variables into a step's argv, env and HTTP request, each value staying inside its own slot.
import { InputError } from '../../errors.js';
import { serviceForTemplates } from '../incidents/incident.js';
import type { ParamValue } from './params.js';
import type { Procedure, Step } from './procedure-schema.js';

/**
 * A variable reference: `{{name}}` or `{{incident.id}}`, spaces allowed inside the braces.
 * Text such as `{{.State.Status}}` (Go templates for docker or kubectl) is not a reference and
 * stays literal.
 */
const REFERENCE = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}/g;

export const INCIDENT_VARIABLES = ['incident.id', 'incident.pagerduty_id', 'incident.service'] as const;
/** Variables every procedure has, besides its own params. */
export const BUILTIN_VARIABLES = ['env', ...INCIDENT_VARIABLES] as const;

export interface IncidentVariables {
  /** `INC-7` */
  id?: string;
  pagerdutyId?: string;
  service?: string;
}

export interface TemplateContext {
  /** Every variable the procedure may use, with its text; declared params not set are empty. */
  readonly vars: ReadonlyMap<string, string>;
  /** Names of secret params: refused where the text would be visible (argv, URL, concurrency key). */
  readonly secretNames: ReadonlySet<string>;
  /** Names of params whose file says `allow_leading_dash: true`: they may begin an argv element with `-`. */
  readonly leadingDashNames: ReadonlySet<string>;
}

/** The request one step makes, with every variable filled in. */
export type ResolvedStep =
  | {
      kind: 'run';
      name: string;
      argv: string[];
      env: Record<string, string>;
      timeoutMs?: number;
      onError: 'abort' | 'continue';
    }
  | {
      kind: 'http';
      name: string;
      method: string;
      url: string;
      headers: Record<string, string>;
      body?: string;
      expectStatus: number[];
      timeoutMs?: number;
      onError: 'abort' | 'continue';
    };

/** Where a template problem sits in the procedure file, e.g. `['steps', 0, 'run', 1]`. */
export interface TemplateProblem {
  path: Array<string | number>;
  message: string;
}

/** The variables a text refers to, in order of first use, each once. */
export function templateVariables(text: string): string[] {
  return [...new Set(Array.from(text.matchAll(REFERENCE), (m) => m[1]!))];
}

/**
 * The variables of one run. Declared params that were not set (optional, no default) fill in as
 * empty text, like incident variables outside an incident; only undeclared names are errors.
 */
export function createTemplateContext(
  procedure: Pick<Procedure, 'params'>,
  values: Record<string, ParamValue>,
  run: { env: string; incident?: IncidentVariables },
): TemplateContext {
  if (Object.hasOwn(procedure.params, 'env')) {
    throw new InputError('a parameter cannot be named "env": {{env}} is the environment the procedure runs in');
  }
  const vars = new Map<string, string>();
  const secretNames = new Set<string>();
  const leadingDashNames = new Set<string>();
  for (const [name, def] of Object.entries(procedure.params)) {
    vars.set(name, Object.hasOwn(values, name) ? String(values[name]) : '');
    if (def.type === 'secret') secretNames.add(name);
    if ('allow_leading_dash' in def && def.allow_leading_dash === true) leadingDashNames.add(name);
  }
  vars.set('env', run.env);
  vars.set('incident.id', run.incident?.id ?? '');
  vars.set('incident.pagerduty_id', run.incident?.pagerdutyId ?? '');
  // A PagerDuty service name is free text ("Checkout (EU)"); procedures get its service-name form.
  vars.set('incident.service', serviceForTemplates(run.incident?.service));
  return { vars, secretNames, leadingDashNames };
}

/**
 * Substitutes every reference in one string, in one pass: a value that itself looks like
 * `{{x}}` is not expanded again. `encode` transforms each value before it is inserted.
 * Throws InputError naming the unknown variables.
 */
export function renderTemplate(
  text: string,
  ctx: TemplateContext,
  options: { where?: string; allowSecrets?: boolean; encode?: (value: string) => string } = {},
): string {
  const where = options.where ? ` in ${options.where}` : '';
  const unknown = templateVariables(text).filter((v) => !ctx.vars.has(v));
  if (unknown.length > 0) {
    throw new InputError(
      `unknown template variable${unknown.length > 1 ? 's' : ''} ${unknown.map((v) => `{{${v}}}`).join(', ')}${where}; known: ${[...ctx.vars.keys()].join(', ')}`,
    );
  }
  if (!options.allowSecrets) {
    const secret = templateVariables(text).filter((v) => ctx.secretNames.has(v));
    if (secret.length > 0) {
      throw new InputError(
        `secret ${secret.join(', ')} cannot be used${where}: arguments show in the process list to every local user, and URLs and concurrency keys are logged and posted; pass it through the step's env: or an HTTP header`,
      );
    }
  }
  return text.replace(REFERENCE, (_match, name: string) => {
    const value = ctx.vars.get(name)!;
    return options.encode ? options.encode(value) : value;
  });
}

/**
 * The argv, env or HTTP request of one step. Each argv element stays exactly one element
 * whatever the values hold (no shell ever sees them). The program (`run[0]`) cannot hold
 * variables: which program runs is fixed by the file.
 */
export function resolveStep(step: Step, ctx: TemplateContext): ResolvedStep {
  const common = { name: step.name, onError: step.on_error, ...(step.timeout !== undefined ? { timeoutMs: step.timeout } : {}) };
  if (step.run !== undefined) {
    const [program, ...args] = step.run;
    if (templateVariables(program!).length > 0) {
      throw new InputError(`step "${step.name}": the program (run[0]) cannot contain template variables; pass values as arguments`);
    }
    const argv = [
      program!,
      ...args.map((arg, i) => {
        const where = `step "${step.name}" run[${i + 1}]`;
        const rendered = renderTemplate(arg, ctx, { where });
        refuseLeadingDash(arg, ctx, where);
        return rendered;
      }),
    ];
    return { kind: 'run', ...common, argv, env: renderEnv(step, ctx) };
  }
  const http = step.http!;
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(http.headers)) {
    const rendered = renderTemplate(value, ctx, { where: `step "${step.name}" header ${key}`, allowSecrets: true });
    if (/[\r\n\0]/.test(rendered)) {
      throw new InputError(`step "${step.name}": header ${key} would contain a line break or NUL after substitution`);
    }
    headers[key] = rendered;
  }
  return {
    kind: 'http',
    ...common,
    method: http.method,
    url: renderUrl(http.url, ctx, `step "${step.name}" url`),
    headers,
    ...(http.body !== undefined ? { body: renderBody(http.body, ctx, `step "${step.name}" body`) } : {}),
    expectStatus: Array.isArray(http.expect_status) ? http.expect_status : [http.expect_status],
  };
}

/**
 * The variable whose value would supply the first character of an argv element made from
 * `template`, if any: none when the element begins with the file's own text (`--name={{x}}`),
 * else the first variable with a non-empty value (`{{x}}`, or `{{x}}{{y}}` with `x` empty).
 */
export function leadingVariable(template: string, vars: ReadonlyMap<string, string>): string | undefined {
  const parts = template.split(REFERENCE); // literal, name, literal, name, …, literal
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (i % 2 === 0) {
      if (part !== '') return undefined;
    } else if ((vars.get(part) ?? '') !== '') return part;
  }
  return undefined;
}

/**
 * Refuses a value that would begin an argv element with `-`: nearly every program reads such an
 * element as an option (`--output=/tmp/x` to sort, `-rf` to rm, even `-5` to head), so chat text
 * could change what the program does. Only a param whose file says `allow_leading_dash: true`
 * may; built-in variables never may. The file's own text (`--name={{x}}`, `-{{x}}`) is not
 * affected.
 */
function refuseLeadingDash(template: string, ctx: TemplateContext, where: string): void {
  const name = leadingVariable(template, ctx.vars);
  if (name === undefined) return;
  const value = ctx.vars.get(name)!;
  if (!value.startsWith('-') || ctx.leadingDashNames.has(name)) return;
  const shown = JSON.stringify([...value].length > 48 ? `${[...value].slice(0, 45).join('')}…` : value);
  const builtin = (BUILTIN_VARIABLES as readonly string[]).includes(name);
  throw new InputError(
    `${where}: {{${name}}} is ${shown}, which would begin an argument with "-" that the program could read as an option; ` +
      (builtin
        ? `{{${name}}} may never begin an argument with "-"`
        : `give ${name} a value that does not start with "-" (the procedure file can allow it with allow_leading_dash: true on ${name})`),
  );
}

function renderEnv(step: Step, ctx: TemplateContext): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(step.env)) {
    env[key] = renderTemplate(value, ctx, { where: `step "${step.name}" env ${key}`, allowSecrets: true });
  }
  return env;
}

/**
 * Fills a URL template so that each value stays in its own part of the URL:
 * - in the path, query or fragment (after the first `/`, `?` or `#` that follows the host), a
 *   value is percent-encoded as one component: `a/b?c` cannot add a path segment or a query key;
 * - in the host (after `://`, before that `/`), a value may hold only letters, digits, `.`, `-`
 *   and `_`, so it cannot move the request to another host (`evil.com/` or `x@evil.com`);
 * - before any literal `://` (a template such as `{{url}}` or `{{base}}/healthz`), the value is
 *   the base URL itself and is inserted as written; the param's own pattern governs it.
 * The result must parse as an http or https URL.
 */
export function renderUrl(template: string, ctx: TemplateContext, where = 'url'): string {
  // Which part of the URL each reference falls in, judged by the literal text before it.
  const parts = template.split(REFERENCE); // literal, name, literal, name, …, literal
  const regions: Array<'base' | 'host' | 'rest'> = [];
  let region: 'base' | 'host' | 'rest' = 'base';
  for (let i = 0; i < parts.length; i++) {
    if (i % 2 === 1) {
      regions.push(region);
      continue;
    }
    const literal = parts[i]!;
    for (let j = 0; j < literal.length && region !== 'rest'; j++) {
      if (region === 'base' && literal.startsWith('://', j)) {
        region = 'host';
        j += 2;
      } else if ('/?#'.includes(literal[j]!)) region = 'rest';
    }
  }
  let index = 0;
  const url = renderTemplate(template, ctx, {
    where,
    encode: (value) => {
      const r = regions[index++]!;
      if (r === 'rest') return encodeURIComponent(value);
      if (r === 'host' && !/^[A-Za-z0-9._-]*$/.test(value)) {
        throw new InputError(
          `${where}: ${JSON.stringify(value)} cannot be used in the host part of the URL; only letters, digits, ".", "-" and "_" may be`,
        );
      }
      // Control characters are exactly what a URL must not carry.
      // eslint-disable-next-line no-control-regex
      if (/[\s\0-\x1f\x7f]/.test(value)) throw new InputError(`${where}: the URL would contain spaces or control characters`);
      return value;
    },
  });
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InputError(`${where}: ${JSON.stringify(url)} is not a valid URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InputError(`${where}: only http and https URLs are allowed, not ${parsed.protocol}`);
  }
  return parsed.href;
}

/**
 * A body that is a JSON document with variables inside its strings (`{"reason": "{{reason}}"}`)
 * gets each value JSON-escaped inside its string, so quotes in a value cannot add keys. Any
 * other body is text and values are inserted as written.
 */
export function renderBody(template: string, ctx: TemplateContext, where = 'body'): string {
  let doc: unknown;
  try {
    doc = JSON.parse(template);
  } catch {
    return renderTemplate(template, ctx, { where, allowSecrets: true });
  }
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return renderTemplate(v, ctx, { where, allowSecrets: true });
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [renderTemplate(k, ctx, { where, allowSecrets: true }), walk(x)]));
    }
    return v;
  };
  return JSON.stringify(walk(doc));
}

/**
 * The key under which runs of this procedure exclude each other: its `concurrency` template, or
 * `<name>-<env>`. Secrets are refused here since the key is stored and shown.
 */
export function resolveConcurrencyKey(procedure: Pick<Procedure, 'name' | 'concurrency'>, ctx: TemplateContext): string {
  if (procedure.concurrency === undefined) return `${procedure.name}-${ctx.vars.get('env') ?? ''}`;
  return renderTemplate(procedure.concurrency, ctx, { where: 'concurrency' });
}

/**
 * Every template problem in a procedure file, without running it: unknown variables, variables
 * in a program, secrets where they would be visible, a param named `env`.
 */
export function checkProcedureTemplates(procedure: Procedure): TemplateProblem[] {
  const problems: TemplateProblem[] = [];
  if (Object.hasOwn(procedure.params, 'env')) {
    problems.push({ path: ['params', 'env'], message: 'a parameter cannot be named "env": {{env}} is the environment the procedure runs in' });
  }
  const known = new Set<string>([...Object.keys(procedure.params), ...BUILTIN_VARIABLES]);
  const secrets = new Set(
    Object.entries(procedure.params)
      .filter(([, d]) => d.type === 'secret')
      .map(([n]) => n),
  );

  const check = (text: string, path: Array<string | number>, secretsAllowed: boolean): void => {
    for (const name of templateVariables(text)) {
      if (!known.has(name)) {
        problems.push({ path, message: `unknown template variable {{${name}}}; known: ${[...known].join(', ')}` });
      } else if (secrets.has(name) && !secretsAllowed) {
        problems.push({ path, message: `secret {{${name}}} cannot be used here, where it would be visible; pass it through env: or an HTTP header` });
      }
    }
  };

  if (procedure.concurrency !== undefined) check(procedure.concurrency, ['concurrency'], false);
  procedure.steps.forEach((step, i) => {
    step.run?.forEach((arg, j) => {
      if (j === 0 && templateVariables(arg).length > 0) {
        problems.push({ path: ['steps', i, 'run', 0], message: 'the program (run[0]) cannot contain template variables; pass values as arguments' });
      } else {
        check(arg, ['steps', i, 'run', j], false);
        const dashed = dashedChoice(procedure, arg);
        if (dashed) problems.push({ path: ['steps', i, 'run', j], message: dashed });
      }
    });
    for (const [key, value] of Object.entries(step.env)) check(value, ['steps', i, 'env', key], true);
    if (step.http) {
      check(step.http.url, ['steps', i, 'http', 'url'], false);
      for (const [key, value] of Object.entries(step.http.headers)) check(value, ['steps', i, 'http', 'headers', key], true);
      if (step.http.body !== undefined) check(step.http.body, ['steps', i, 'http', 'body'], true);
    }
  });
  return problems;
}

/**
 * A value the file itself offers (an enum value or a default) that starts with `-` for a param
 * beginning this argv element without `allow_leading_dash: true`: every run using it would be
 * refused, so the file is wrong, not the run.
 */
function dashedChoice(procedure: Procedure, arg: string): string | undefined {
  const [before, name] = arg.split(REFERENCE);
  if (before !== '' || name === undefined || !Object.hasOwn(procedure.params, name)) return undefined;
  const def = procedure.params[name]!;
  if (def.type === 'secret' || def.type === 'bool' || def.type === 'duration' || def.allow_leading_dash === true) return undefined;
  const offered = [...(def.type === 'enum' ? def.values : []), ...(def.default !== undefined ? [String(def.default)] : [])];
  const dashed = offered.find((v) => v.startsWith('-'));
  if (dashed === undefined) return undefined;
  return `{{${name}}} begins this argument and may be ${JSON.stringify(dashed)}, which would be refused at run time (a value beginning an argument with "-" could be read as an option); set allow_leading_dash: true on ${name}, or write the dash in the file (e.g. "-{{${name}}}")`;
}
