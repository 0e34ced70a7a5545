// One line of words per audit event, shared by the console, chat timelines and exports.
import type { AuditEvent } from '../audit/audit-chain.js';
import { rich, runRef, segmentsOf, userRef, type RichText } from '../rich-text.js';

type Payload = Record<string, unknown>;
/** A payload value as words: scalars as they print, anything else as JSON rather than "[object Object]". */
export function payloadText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  const json = JSON.stringify(v) as unknown; // undefined for undefined, functions and symbols
  return typeof json === 'string' ? json : '';
}
const str = (v: unknown): string => (v === undefined || v === null ? '' : payloadText(v));
/** Who an event names: a reference each surface shows its own way (a Slack mention, a name). */
const mention = (v: unknown): RichText => (v ? [userRef(payloadText(v))] : segmentsOf('nobody'));

const policyTarget = (p: Payload): string =>
  `${str(p.action)}${p.procedure ? ` ${str(p.procedure)}` : ''}${p.environment ? ` in ${str(p.environment)}` : ''}`;

const run = (p: Payload): RichText => rich`${p.run ? runRef(str(p.run)) : ''} ${str(p.procedure)}${p.environment ? ` (${str(p.environment)})` : ''}`;
const params = (p: Payload): string => {
  const entries = Object.entries((p.params ?? {}) as Record<string, unknown>);
  return entries.length === 0 ? '' : ` with ${entries.map(([k, v]) => `${k}=${String(v)}`).join(' ')}`;
};

/** PagerDuty changes name the person or integration behind them. */
const behalf = (p: Payload): string => (p.on_behalf_of ? ` on behalf of ${str(p.on_behalf_of)}` : '');
const names = (v: unknown): string => (Array.isArray(v) && v.length > 0 ? v.map(String).join(', ') : 'nobody');

/** An incident PagerDuty opened names the event that did it, who caused it and when (PagerDuty's time). */
const triggeredBy = (p: Payload): string =>
  p.pagerduty_event
    ? `; triggered in PagerDuty${p.on_behalf_of ? ` by ${str(p.on_behalf_of)}` : ''}${p.pagerduty_occurred_at ? ` at ${str(p.pagerduty_occurred_at)}` : ''} (event ${str(p.pagerduty_event)})`
    : '';

/** The receipt of a PagerDuty webhook event (`pagerduty.<event type>`), whatever its type. */
const describeReceipt = (p: Payload): string => `PagerDuty sent ${str(p.event_type)}${p.agent ? ` (${str(p.agent)})` : ''}${p.ignored ? '; ignored' : ''}`;

const DESCRIBERS: Record<string, (p: Payload) => RichText | string> = {
  'run.requested': (p) => rich`requested ${run(p)}${params(p)}${p.approval ? ', held for approval' : ''}`,
  'run.dry_run': (p) => rich`dry-ran ${str(p.procedure)} (${str(p.environment)})${params(p)}`,
  'run.approved': (p) => rich`approved ${run(p)} (${str(p.approvals)}/${str(p.needed)})`,
  'run.denied': (p) => rich`denied ${run(p)}: ${str(p.reason)}`,
  'run.started': (p) => rich`${run(p)} started`,
  'run.step_started': (p) =>
    rich`${run(p)} step ${str(p.step)} started${Array.isArray(p.argv) ? `: ${(p.argv as unknown[]).map(String).join(' ')}` : p.url ? `: ${str(p.method)} ${str(p.url)}` : ''}`,
  'run.step_finished': (p) =>
    rich`${run(p)} step ${str(p.step)} ${str(p.outcome).replace('_', ' ')}${p.exit_code !== null && p.exit_code !== undefined ? ` (exit ${str(p.exit_code)})` : ''}${p.http_status ? ` (HTTP ${str(p.http_status)})` : ''}`,
  'run.finished': (p) => rich`${run(p)} ${str(p.state).replace('_', ' ')}${p.error ? `: ${str(p.error)}` : ''}`,
  'run.cancel_requested': (p) => rich`asked to cancel ${run(p)}`,
  'run.cancelled': (p) => rich`${run(p)} cancelled`,
  'run.approval_expired': (p) => rich`${run(p)} expired without approval`,
  'run.approval_voided': (p) => rich`${run(p)} approval voided: ${str(p.reason)}`,
  'run.interrupted': (p) =>
    p.replica_host
      ? rich`${run(p)} interrupted: its edgeops replica on ${str(p.replica_host)} stopped answering`
      : rich`${run(p)} interrupted: edgeops stopped mid-run`,
  policy_reloaded: () => 'policies and procedures reloaded',
  policy_reload_failed: () => 'a policy or procedure edit was refused; the last good set stays in force',
  'delivery.failed': (p) => rich`a message could not be delivered: ${str(p.error)}`,
  'incident.declared': (p) =>
    rich`declared "${str(p.title)}" (SEV${str(p.severity)}${p.service ? `, service ${str(p.service)}` : ''}${p.pagerduty_id ? `, PagerDuty ${str(p.pagerduty_id)}` : ''})${triggeredBy(p)}`,
  'incident.updated': (p) => rich`status update${p.status ? ` [${str(p.status)}]` : ''}: ${str(p.text)}`,
  'incident.note': (p) => (p.pinned ? rich`pinned a message by ${mention(p.author)}: ${str(p.text)}` : `note: ${str(p.text)}`),
  'incident.severity_changed': (p) => rich`severity SEV${str(p.from)} → SEV${str(p.to)}`,
  'incident.role_assigned': (p) => rich`${str(p.role)}: ${mention(p.user)}${p.previous ? rich` (was ${mention(p.previous)})` : ''}`,
  'incident.member_invited': (p) => rich`invited ${mention(p.user)} as a member`,
  'incident.acknowledged': (p) => rich`acknowledged${p.on_behalf_of ? ` on behalf of ${str(p.on_behalf_of)}` : ''}`,
  'incident.export_requested': (p) => rich`asked for the ${str(p.format)} transcript`,
  'incident.reminder': (p) => (p.reason === 'commander' ? 'reminder: assign a commander' : 'reminder: post a status update'),
  'incident.resolved': (p) => rich`resolved${behalf(p)}${p.summary ? `: ${str(p.summary)}` : ''}`,
  'incident.reopened': (p) => rich`reopened in PagerDuty${behalf(p)}`,
  'incident.unacknowledged': (p) => rich`no longer acknowledged in PagerDuty${behalf(p)}`,
  'incident.escalated': (p) => rich`escalated to ${names(p.assignees)}${p.escalation_policy ? ` (${str(p.escalation_policy)})` : ''}${behalf(p)}`,
  'incident.reassigned': (p) => rich`reassigned to ${names(p.assignees)}${behalf(p)}`,
  'incident.delegated': (p) => rich`delegated to escalation policy ${str(p.escalation_policy) || 'unknown'}${behalf(p)}`,
  'incident.priority_updated': (p) =>
    rich`priority ${str(p.priority) || 'none'}${p.from !== p.to ? ` (SEV${str(p.from)} → SEV${str(p.to)})` : ''}${behalf(p)}`,
  'incident.annotated': (p) => rich`PagerDuty note${behalf(p)}: ${str(p.text)}`,
  'pagerduty.trigger_failed': (p) => rich`could not start ${str(p.procedure)} for PagerDuty ${str(p.event_type)}: ${str(p.reason)}`,
  'pagerduty.processing_failed': (p) => rich`PagerDuty ${str(p.event_type)} ${str(p.event_id)} could not be processed: ${str(p.error)}`,
  'policy.denied': (p) => rich`was refused ${policyTarget(p)}${p.reason ? `: ${str(p.reason)}` : ''}`,
  'policy.allowed': (p) => rich`was allowed ${policyTarget(p)}`,
  'policy.approval_required': (p) => rich`needs approval for ${policyTarget(p)}`,
  'portal.exported': (p) => rich`downloaded the postmortem (${str(p.format)}) from the portal`,
};

/** The event in words, the people and runs it names kept as references: surfaces render them. */
export function describeEvent(event: Pick<AuditEvent, 'kind' | 'payload'>): RichText {
  const describe = DESCRIBERS[event.kind];
  if (describe) return segmentsOf(describe(event.payload));
  if (event.kind.startsWith('pagerduty.') && event.payload.event_id !== undefined) return segmentsOf(describeReceipt(event.payload));
  const summary = event.payload.summary ?? event.payload.text ?? event.payload.message;
  return segmentsOf(summary === undefined ? event.kind : `${event.kind}: ${str(summary)}`);
}
