// The incident record and the pure rules about it: ids, channel names, severities, statuses, roles.
import { InputError, NotFoundError } from '../../errors.js';

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
export const noSuchIncident = (id: string): NotFoundError =>
  new NotFoundError(`${id} does not exist; /incident list shows the open incidents`);

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

/** Slack user mention `<@U123>` / `<@U123|name>` or a bare ID. */
export function parseUserRef(text: string): string {
  const m = /^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$/.exec(text.trim()) ?? /^@?([UW][A-Z0-9]+)$/.exec(text.trim());
  if (!m) throw new InputError(`"${text}" is not a Slack user; mention them as @user (an ID such as U0123ABCD)`);
  return m[1]!;
}

export const TITLE_MAX = 200;
export const TEXT_MAX = 4000;

export function requireText(what: string, text: string, max: number): string {
  const t = text.trim();
  if (!t) throw new InputError(`${what} is empty; say what happened`);
  if (t.length > max) throw new InputError(`${what} is ${t.length} characters; keep it under ${max}`);
  return t;
}

export function durationText(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}

export const isoTime = (ms: number): string => new Date(ms).toISOString();
