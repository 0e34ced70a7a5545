// Checks and types a run's parameters against the procedure's declarations before anything runs.
import { InputError } from '../../errors.js';
import { formatDuration, parseDuration } from '../duration.js';
import { MIN_MASKED_SECRET_LENGTH } from './mask.js';
import type { ParamDef, Procedure } from './procedure-schema.js';

export type ParamValue = string | number | boolean;

export interface ResolveParamsOptions {
  /** The bot's environment, where `secret` params are read (`secretEnv[def.env]`). */
  secretEnv: Record<string, string | undefined>;
  /**
   * Values for params the caller did not give, taking precedence over the file's own defaults;
   * for example a PagerDuty trigger's `with:`. Checked exactly like given values (an unknown name
   * or a secret here is refused too).
   */
  defaults?: Record<string, ParamValue>;
}

export interface ResolvedParams {
  /** Checked values by param name: `int` → number, `bool` → boolean, others → the text as written. */
  values: Record<string, ParamValue>;
  /** The values of secret params, to mask wherever output or records are stored or posted. */
  secrets: string[];
}

/** Parameters were refused; `problems` holds every one, each saying what to fix. */
export class ParamsError extends InputError {
  constructor(
    readonly procedure: string,
    readonly problems: string[],
  ) {
    super(`${procedure}: ${problems.length === 1 ? 'a parameter was' : `${problems.length} parameters were`} refused: ${problems.join('; ')}`);
  }
}

type ParamsProcedure = Pick<Procedure, 'name' | 'params'>;

/**
 * Checks `given` (from chat or the command line, always text) against the declarations and
 * returns typed values with defaults applied, or throws `ParamsError` listing every problem.
 * Secret params come only from `secretEnv`; naming one in `given` is refused outright.
 */
export function resolveParams(procedure: ParamsProcedure, given: Record<string, string>, options: ResolveParamsOptions): ResolvedParams {
  const problems: string[] = [];
  const defs = procedure.params;
  const values: Record<string, ParamValue> = {};
  const secrets: string[] = [];

  const supplied = (source: Record<string, unknown>, from: string): void => {
    for (const name of Object.keys(source)) {
      const def = Object.hasOwn(defs, name) ? defs[name] : undefined;
      if (def === undefined) problems.push(`unknown parameter "${printable(name)}"${from}; ${knownList(procedure)}`);
      else if (def.type === 'secret') {
        problems.push(
          `${name} is a secret: it is read from the bot's environment variable ${def.env} and can never be given in chat or on the command line`,
        );
      }
    }
  };
  supplied(given, '');
  supplied(options.defaults ?? {}, ' in the preset values');

  for (const [name, def] of Object.entries(defs)) {
    if (def.type === 'secret') {
      const value = options.secretEnv[def.env];
      if (value === undefined || value === '') {
        if (def.required) problems.push(`${name} needs the environment variable ${def.env} set in the bot's environment`);
        continue;
      }
      if (value.includes('\0')) problems.push(`${name}: the value of ${def.env} contains a NUL character`);
      else if (value.length < MIN_MASKED_SECRET_LENGTH) {
        problems.push(
          `${name}: the value of ${def.env} is shorter than ${MIN_MASKED_SECRET_LENGTH} characters, too short to be masked in output; set a real secret`,
        );
      } else {
        values[name] = value;
        secrets.push(value);
      }
      continue;
    }

    const givenValue = Object.hasOwn(given, name) ? given[name] : undefined;
    const presetValue = options.defaults && Object.hasOwn(options.defaults, name) ? options.defaults[name] : undefined;
    const [raw, origin] =
      givenValue !== undefined
        ? [givenValue, '']
        : presetValue !== undefined
          ? [String(presetValue), ' (preset value)']
          : def.default !== undefined
            ? [String(def.default), ' (default in the procedure file)']
            : [undefined, ''];

    if (raw === undefined) {
      if (def.required) problems.push(`${name} is required: ${describeParam(def)}`);
      continue;
    }
    const checked = checkValue(def, raw);
    if (typeof checked === 'object') problems.push(`${name}${origin}: ${checked.problem}`);
    else values[name] = checked;
  }

  if (problems.length > 0) throw new ParamsError(procedure.name, problems);
  return { values, secrets };
}

/** Checks one text value against a non-secret declaration: the typed value, or what is wrong. */
export function checkValue(def: Exclude<ParamDef, { type: 'secret' }>, raw: string): ParamValue | { problem: string } {
  const fail = (problem: string): { problem: string } => ({ problem });
  if (raw.includes('\0')) return fail('contains a NUL character, which no parameter may hold');

  switch (def.type) {
    case 'string': {
      const length = [...raw].length;
      if (length > def.max_length) return fail(`is ${length} characters long; at most ${def.max_length} are allowed`);
      // Whole-value match: `web-01;ls` must not pass a pattern that merely finds `web-01` in it.
      if (def.pattern !== undefined && !new RegExp(`^(?:${def.pattern})$`, 'u').test(raw)) {
        return fail(`${quote(raw)} does not match the pattern ${def.pattern} (the whole value must match)`);
      }
      return raw;
    }
    case 'int': {
      if (!/^-?(?:0|[1-9][0-9]*)$/.test(raw) || raw === '-0') {
        return fail(`${quote(raw)} is not a whole number; write plain digits such as 50`);
      }
      const n = Number(raw);
      if (!Number.isSafeInteger(n)) return fail(`${quote(raw)} is too large`);
      if (def.min !== undefined && n < def.min) return fail(`${n} is below the minimum ${def.min}`);
      if (def.max !== undefined && n > def.max) return fail(`${n} is above the maximum ${def.max}`);
      return n;
    }
    case 'bool': {
      const v = raw.toLowerCase();
      if (v === 'true' || v === 'yes' || v === '1') return true;
      if (v === 'false' || v === 'no' || v === '0') return false;
      return fail(`${quote(raw)} is not a yes/no value; write true, false, yes, no, 1 or 0`);
    }
    case 'enum':
      if (!def.values.includes(raw)) return fail(`${quote(raw)} is not one of ${def.values.join(', ')}`);
      return raw;
    case 'duration': {
      const ms = raw === raw.trim() ? parseDuration(raw) : undefined;
      if (ms === undefined) return fail(`${quote(raw)} is not a duration; write e.g. 30s, 5m or 1h30m`);
      if (def.min !== undefined && ms < def.min) return fail(`${raw} is shorter than the minimum ${formatDuration(def.min)}`);
      if (def.max !== undefined && ms > def.max) return fail(`${raw} is longer than the maximum ${formatDuration(def.max)}`);
      // Kept as written: `sleep`, `timeout` and `kubectl --timeout` all take this form.
      return raw;
    }
  }
}

/** What a param accepts, in words (for help texts and "is required" messages). */
export function describeParam(def: ParamDef): string {
  switch (def.type) {
    case 'string':
      return def.pattern !== undefined ? `text matching ${def.pattern} (whole value)` : `text of at most ${def.max_length} characters`;
    case 'int':
      return `a whole number${range(def.min, def.max, String)}`;
    case 'bool':
      return 'true or false';
    case 'enum':
      return `one of ${def.values.join(', ')}`;
    case 'duration':
      return `a duration such as 30s or 5m${range(def.min, def.max, formatDuration)}`;
    case 'secret':
      return `a secret read from the environment variable ${def.env}`;
  }
}

function range(min: number | undefined, max: number | undefined, show: (n: number) => string): string {
  if (min !== undefined && max !== undefined) return ` from ${show(min)} to ${show(max)}`;
  if (min !== undefined) return ` of at least ${show(min)}`;
  if (max !== undefined) return ` of at most ${show(max)}`;
  return '';
}

function knownList(procedure: ParamsProcedure): string {
  const names = Object.entries(procedure.params)
    .filter(([, def]) => def.type !== 'secret')
    .map(([name]) => name);
  return names.length === 0 ? `${procedure.name} takes no parameters` : `${procedure.name} takes ${names.join(', ')}`;
}

/** Quotes a refused value for a message: short, one line, control characters escaped. */
function quote(value: string): string {
  const shown = [...value].length > 48 ? `${[...value].slice(0, 45).join('')}…` : value;
  return JSON.stringify(shown);
}

function printable(name: string): string {
  return JSON.stringify([...name].length > 48 ? `${[...name].slice(0, 45).join('')}…` : name).slice(1, -1);
}
