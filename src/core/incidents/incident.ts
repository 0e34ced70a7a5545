// The incident record and the pure rules about it: ids, channel names, severities, statuses, roles.
import { InputError, NotFoundError } from '../../errors.js';
import { USER_ID_PATTERN } from '../user-id.js';

export const STATUSES = ['investigating', 'identified', 'monitoring'] as const;
export type OpenStatus = (typeof STATUSES)[number];
export type IncidentStatus = OpenStatus | 'resolved';

export const ROLES = ['commander', 'comms', 'scribe'] as const;
export type IncidentRole = (typeof ROLES)[number];

export interface Incident {
  id: string;
  number: number;
  title: string;
  severity: number;
  status: IncidentStatus;
  service: string | null;
  private: boolean;
  channelName: string;
  channelId: string | null;
  roles: Record<IncidentRole, string | null>;
  declaredBy: string;
  declaredAt: number;
  acknowledgedAt: number | null;
  resolvedAt: number | null;
  summary: string | null;
  pagerdutyId: string | null;
  pagerdutyUrl: string | null;
  lastUpdateAt: number;
}

export const incidentId = (n: number): string => `INC-${n}`;

/**
 * The one answer for an incident that is not there, and for a private one the caller may not see:
 * the two must read alike, so a private incident's existence never shows.
 */
export const noSuchIncident = (id: string): NotFoundError => new NotFoundError(`${id} does not exist; /incident list shows the open incidents`);

export function parseIncidentId(text: string): string {
  const m = /^(?:INC-)?(\d{1,9})$/i.exec(text.trim());
  if (!m) throw new InputError(`"${text}" is not an incident id; use the form INC-7`);
  return incidentId(Number(m[1]));
}

/** `inc-<n>-<slug-of-title>`: lowercase, Slack-safe characters, at most 80 characters. */
export function channelName(n: number, title: string): string {
  const prefix = `inc-${n}`;
  const slug = title
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (!slug) return prefix;
  return `${prefix}-${slug}`.slice(0, 80).replace(/-+$/, '');
}

export function parseSeverity(text: string): number {
  if (!/^[1-4]$/.test(text.trim())) throw new InputError(`severity must be 1, 2, 3 or 4 (got "${text}")`);
  return Number(text);
}

export function parseStatus(text: string): OpenStatus {
  const s = text.trim().toLowerCase();
  if (!(STATUSES as readonly string[]).includes(s)) {
    throw new InputError(`status must be one of ${STATUSES.join(', ')} (got "${text}")`);
  }
  return s as OpenStatus;
}

export function parseRole(text: string): IncidentRole {
  const r = text.trim().toLowerCase();
  if (!(ROLES as readonly string[]).includes(r)) throw new InputError(`role must be one of ${ROLES.join(', ')} (got "${text}")`);
  return r as IncidentRole;
}

const MENTION_REF = new RegExp(`^<@(${USER_ID_PATTERN})(?:\\|[^>]*)?>$`);
const BARE_REF = new RegExp(`^@?(${USER_ID_PATTERN})$`);

/** Slack user mention `<@U123>` / `<@U123|name>` or a bare ID. */
export function parseUserRef(text: string): string {
  const m = MENTION_REF.exec(text.trim()) ?? BARE_REF.exec(text.trim());
  if (!m) throw new InputError(`"${text}" is not a Slack user; mention them as @user (an ID such as U0123ABCD)`);
  return m[1]!;
}

/**
 * What `service=` accepts: a letter or digit first, then letters, digits, `.`, `_`, space and `-`,
 * at most 80 characters. Procedures get it as `{{incident.service}}`, so it can never begin with
 * `-` (an option) nor hold characters a program or path would treat specially.
 */
export const SERVICE_PATTERN = '[A-Za-z0-9][A-Za-z0-9._ -]{0,79}';
const SERVICE = new RegExp(`^(?:${SERVICE_PATTERN})$`);

export const isServiceName = (text: string): boolean => SERVICE.test(text);

/** A service name typed by a person (`service=checkout`), refused unless it matches the pattern. */
export function parseServiceName(text: string): string {
  const name = text.trim();
  if (!SERVICE.test(name)) {
    const shown = [...name].length > 48 ? `${[...name].slice(0, 45).join('')}…` : name;
    throw new InputError(
      `service=${JSON.stringify(shown)} is not a service name: it must match ${SERVICE_PATTERN} (a letter or digit first, then letters, digits, ".", "_", "-" or spaces, at most 80 characters)`,
    );
  }
  return name;
}

/**
 * The service as procedures see it (`{{incident.service}}`). A name that matches the pattern is
 * used as recorded. Any other (a PagerDuty service is named freely, e.g. "Checkout (EU)", and is
 * kept so for display, policies and triggers) becomes its service-name form: accents dropped,
 * each run of other characters one space, leading non-alphanumerics removed, cut to 80
 * ("Checkout EU"). A name with nothing usable left fills in as empty, like an incident without
 * a service.
 */
export function serviceForTemplates(name: string | null | undefined): string {
  if (!name) return '';
  if (SERVICE.test(name)) return name;
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9._-]+/g, ' ')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 80)
    .trimEnd();
}

export const TITLE_MAX = 200;
export const TEXT_MAX = 4000;

export function requireText(what: string, text: string, max: number): string {
  const t = text.trim();
  if (!t) throw new InputError(`${what} is empty; say what happened`);
  if (t.length > max) throw new InputError(`${what} is ${t.length} characters; keep it under ${max}`);
  return t;
}

export const isoTime = (ms: number): string => new Date(ms).toISOString();
