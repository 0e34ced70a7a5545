// One line of words per audit event, shared by the console, chat timelines and exports.
import type { AuditEvent } from '../audit/audit-chain.js';

type Payload = Record<string, unknown>;
const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
const mention = (v: unknown): string => (v ? `<@${String(v)}>` : 'nobody');

const policyTarget = (p: Payload): string =>
  `${str(p.action)}${p.procedure ? ` ${str(p.procedure)}` : ''}${p.environment ? ` in ${str(p.environment)}` : ''}`;

const DESCRIBERS: Record<string, (p: Payload) => string> = {
  'incident.declared': (p) =>
    `declared "${str(p.title)}" (SEV${str(p.severity)}${p.service ? `, service ${str(p.service)}` : ''})`,
  'incident.updated': (p) => `status update${p.status ? ` [${str(p.status)}]` : ''}: ${str(p.text)}`,
  'incident.note': (p) =>
    p.pinned ? `pinned a message by ${mention(p.author)}: ${str(p.text)}` : `note: ${str(p.text)}`,
  'incident.severity_changed': (p) => `severity SEV${str(p.from)} → SEV${str(p.to)}`,
  'incident.role_assigned': (p) => `${str(p.role)}: ${mention(p.user)}${p.previous ? ` (was ${mention(p.previous)})` : ''}`,
  'incident.acknowledged': (p) => `acknowledged${p.on_behalf_of ? ` on behalf of ${str(p.on_behalf_of)}` : ''}`,
  'incident.export_requested': (p) => `asked for the ${str(p.format)} transcript`,
  'incident.reminder': (p) => (p.reason === 'commander' ? 'reminder: assign a commander' : 'reminder: post a status update'),
  'incident.resolved': (p) => `resolved${p.summary ? `: ${str(p.summary)}` : ''}`,
  'policy.denied': (p) => `was refused ${policyTarget(p)}${p.reason ? `: ${str(p.reason)}` : ''}`,
  'policy.allowed': (p) => `was allowed ${policyTarget(p)}`,
  'policy.approval_required': (p) => `needs approval for ${policyTarget(p)}`,
};

export function describeEvent(event: Pick<AuditEvent, 'kind' | 'payload'>): string {
  const describe = DESCRIBERS[event.kind];
  if (describe) return describe(event.payload);
  const summary = event.payload.summary ?? event.payload.text ?? event.payload.message;
  return summary === undefined ? event.kind : `${event.kind}: ${str(summary)}`;
}

