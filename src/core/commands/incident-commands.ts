// `/incident …`: maps parsed arguments onto the incident service, checking access first.
import { InputError } from '../../errors.js';
import type { AccessControl } from '../access.js';
import type { By } from '../ports.js';
import { joinRich, rich, userRef } from '../rich-text.js';
import { formatDuration } from '../duration.js';
import { isoTime, parseIncidentId, parseRole, parseSeverity, parseStatus, parseUserRef, type Incident } from '../incidents/incident.js';
import type { IncidentService } from '../incidents/incident-service.js';
import type { IncidentVisibility } from '../incidents/incident-visibility.js';
import { describeEvent } from '../timeline/describe-event.js';
import type { CommandContext, CommandReply, SubcommandSpec } from './command-context.js';
import type { ParsedArgs } from './grammar.js';
import { dispatchSubcommand, type SubcommandTable } from './subcommands.js';

export const EXPORT_FORMATS = ['md', 'json', 'html'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface IncidentCommandDeps {
  incidents: IncidentService;
  access: AccessControl;
  /** Private incidents the caller may not see answer as missing ones, before anything else is checked. */
  visibility: IncidentVisibility;
  /** Delivers the transcript where the caller can get it (a local file, or an upload queued for the channel). */
  deliverExport: (by: By, incident: Incident, format: ExportFormat) => Promise<string>;
  /** A one-time sign-in link to the ops portal for the caller (docs/portal.md); absent where there is no portal. */
  portalLink?: (actor: By['actor'], source: By['source']) => Promise<string>;
}

/**
 * The incident a command is about: `incident=INC-7`, else the incident of the channel it was typed in.
 * Looked up first, so a private incident the caller may not see gets the missing-incident answer
 * before any policy check or argument of theirs could tell the two apart.
 */
export async function targetIncident(deps: Pick<IncidentCommandDeps, 'visibility'>, ctx: CommandContext, args: ParsedArgs): Promise<Incident> {
  const given = args.params.incident;
  if (given !== undefined) return await deps.visibility.get(ctx, parseIncidentId(given));
  const here = ctx.channelId ? await deps.visibility.byChannel(ctx, ctx.channelId) : undefined;
  if (!here) throw new InputError('this is not an incident channel; add incident=INC-7 to say which incident');
  return here;
}

const text = (args: ParsedArgs, what: string): string => {
  const t = args.words.join(' ').trim();
  if (!t) throw new InputError(`${what} is missing`);
  return t;
};

/** Checks the policy; returns who acts, with the decision that allowed it. */
async function guard(deps: IncidentCommandDeps, ctx: CommandContext, action: string, incident?: Incident): Promise<By> {
  const authorization = await deps.access.require(ctx.actor, ctx.source, { action, channel: ctx.channelId, incidentId: incident?.id ?? null });
  return authorization ? { actor: ctx.actor, source: ctx.source, authorization } : { actor: ctx.actor, source: ctx.source };
}

const SUBCOMMANDS: Array<SubcommandSpec<IncidentCommandDeps>> = [
  {
    name: 'declare',
    usage: 'declare <title> [sev=1..4] [service=NAME] [--private]',
    summary: 'open an incident with its own channel; you become commander',
    action: 'incident.declare',
    params: ['sev', 'service'],
    flags: ['private'],
    async run(deps, ctx, args) {
      const title = text(args, 'the title (what is broken?)');
      const severity = args.params.sev === undefined ? undefined : parseSeverity(args.params.sev);
      const service = args.params.service?.trim() || null;
      const by = await guard(deps, ctx, 'incident.declare');
      const incident = await deps.incidents.declare(by, {
        title,
        severity,
        service,
        private: args.flags.includes('private'),
        fromChannel: ctx.channelId,
      });
      return {
        text: `${incident.id} declared (SEV${incident.severity}): ${incident.title}. Channel #${incident.channelName}; you are the commander.`,
        incidentId: incident.id,
      };
    },
  },
  {
    name: 'update',
    usage: 'update <text> [status=investigating|identified|monitoring]',
    summary: 'post a status update',
    action: 'incident.update',
    params: ['status', 'incident'],
    async run(deps, ctx, args) {
      const incident = await targetIncident(deps, ctx, args);
      const status = args.params.status === undefined ? undefined : parseStatus(args.params.status);
      const body = text(args, 'the update text');
      const by = await guard(deps, ctx, 'incident.update', incident);
      const updated = await deps.incidents.update(by, incident.id, { text: body, status });
      return { text: `Update posted to ${updated.id} (status ${updated.status}).`, incidentId: updated.id };
    },
  },
  {
    name: 'note',
    usage: 'note <text>',
    summary: 'add a note to the timeline',
    action: 'incident.note',
    params: ['incident'],
    async run(deps, ctx, args) {
      const incident = await targetIncident(deps, ctx, args);
      const body = text(args, 'the note text');
      const by = await guard(deps, ctx, 'incident.note', incident);
      await deps.incidents.note(by, incident.id, body);
      return { text: `Noted on ${incident.id}.`, incidentId: incident.id };
    },
  },
  {
    name: 'sev',
    usage: 'sev <1..4>',
    summary: 'change the severity',
    action: 'incident.sev',
    params: ['incident'],
    async run(deps, ctx, args) {
      const incident = await targetIncident(deps, ctx, args);
      if (args.words.length !== 1) throw new InputError('sev takes one number, 1 (worst) to 4: /incident sev 2');
      const severity = parseSeverity(args.words[0]!);
      const by = await guard(deps, ctx, 'incident.sev', incident);
      await deps.incidents.setSeverity(by, incident.id, severity);
      return { text: `${incident.id} is now SEV${severity}.`, incidentId: incident.id };
    },
  },
  {
    name: 'role',
    usage: 'role <commander|comms|scribe> <@user>',
    summary: 'assign an incident role',
    action: 'incident.role',
    params: ['incident'],
    async run(deps, ctx, args) {
      const incident = await targetIncident(deps, ctx, args);
      if (args.words.length !== 2) throw new InputError('role takes a role and a person: /incident role comms @alice');
      const role = parseRole(args.words[0]!);
      const user = parseUserRef(args.words[1]!);
      const by = await guard(deps, ctx, 'incident.role', incident);
      await deps.incidents.assignRole(by, incident.id, role, user);
      return { text: rich`${userRef(user)} is now ${role} of ${incident.id}.`, incidentId: incident.id };
    },
  },
  {
    name: 'ack',
    usage: 'ack',
    summary: 'acknowledge the incident',
    action: 'incident.ack',
    params: ['incident'],
    async run(deps, ctx, args) {
      const incident = await targetIncident(deps, ctx, args);
      if (args.words.length > 0) throw new InputError('ack takes no text; use note to add one');
      const by = await guard(deps, ctx, 'incident.ack', incident);
      const acked = await deps.incidents.ack(by, incident.id);
      return {
        text: `${acked.id} acknowledged after ${formatDuration(acked.acknowledgedAt! - acked.declaredAt, 'elapsed')}.`,
        incidentId: acked.id,
      };
    },
  },
  {
    name: 'resolve',
    usage: 'resolve [summary]',
    summary: 'resolve the incident',
    action: 'incident.resolve',
    params: ['incident'],
    async run(deps, ctx, args) {
      const incident = await targetIncident(deps, ctx, args);
      const by = await guard(deps, ctx, 'incident.resolve', incident);
      const resolved = await deps.incidents.resolve(by, incident.id, args.words.join(' '));
      return {
        text: `${resolved.id} resolved after ${formatDuration(resolved.resolvedAt! - resolved.declaredAt, 'elapsed')}.`,
        incidentId: resolved.id,
      };
    },
  },
  {
    name: 'invite',
    usage: 'invite <@user>',
    summary: 'make someone a member (a private incident is theirs to see) and add them to its channel',
    action: 'incident.view',
    params: ['incident'],
    async run(deps, ctx, args) {
      // Whoever may see the incident may invite: its members, and roles allowed incident.view_private.
      const incident = await targetIncident(deps, ctx, args);
      if (args.words.length !== 1) throw new InputError('invite takes one person: /incident invite @alice');
      const user = parseUserRef(args.words[0]!);
      const by = await guard(deps, ctx, 'incident.view', incident);
      await deps.incidents.invite(by, incident.id, user);
      return { text: rich`${userRef(user)} is now a member of ${incident.id} and is being added to #${incident.channelName}.`, incidentId: incident.id };
    },
  },
  {
    name: 'timeline',
    usage: 'timeline [limit=N]',
    summary: 'show the latest timeline entries',
    action: 'incident.view',
    params: ['limit', 'incident'],
    async run(deps, ctx, args) {
      const incident = await targetIncident(deps, ctx, args);
      const raw = args.params.limit ?? '20';
      if (!/^\d{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > 500) {
        throw new InputError(`limit must be a number from 1 to 500 (got "${raw}")`);
      }
      await guard(deps, ctx, 'incident.view', incident);
      const events = await deps.incidents.timeline(incident.id, Number(raw));
      const lines = events.map((e) => rich`${isoTime(e.time)}  #${e.seq}  ${userRef(e.actor)}  ${describeEvent(e)}`);
      return { text: joinRich([`Timeline of ${incident.id} (latest ${events.length}):`, ...lines], '\n'), incidentId: incident.id };
    },
  },
  {
    name: 'export',
    usage: 'export [format=md|json|html]',
    summary: 'export the postmortem transcript',
    action: 'incident.export',
    params: ['format', 'incident'],
    async run(deps, ctx, args) {
      const incident = await targetIncident(deps, ctx, args);
      const format = (args.params.format ?? 'md') as ExportFormat;
      if (!EXPORT_FORMATS.includes(format)) throw new InputError(`format must be md, json or html (got "${format}")`);
      // Seeing the incident, then taking its transcript away: two grants, either may be withheld.
      await guard(deps, ctx, 'incident.view', incident);
      const by = await guard(deps, ctx, 'incident.export', incident);
      const where = await deps.deliverExport(by, incident, format);
      return { text: `Transcript of ${incident.id} (${format}): ${where}`, incidentId: incident.id };
    },
  },
  {
    name: 'portal',
    usage: 'portal',
    summary: 'a one-time link (10 minutes) that signs you in to the ops portal',
    async run(deps, ctx, args) {
      if (args.words.length > 0) throw new InputError('portal takes nothing more: /incident portal');
      if (!deps.portalLink) throw new InputError('the ops portal is not served here');
      // Anyone may sign in: each page then shows only what the policy lets them see.
      const link = await deps.portalLink(ctx.actor, ctx.source);
      return { text: `Your sign-in link to the ops portal (only for you, once, within 10 minutes): ${link}` };
    },
  },
  {
    name: 'list',
    usage: 'list',
    summary: 'list open incidents',
    action: 'incident.view',
    async run(deps, ctx) {
      await guard(deps, ctx, 'incident.view');
      const open = await deps.visibility.listOpen(ctx);
      if (open.length === 0) return { text: 'No open incidents.' };
      const lines = open.map(
        (i) => rich`${i.id}  SEV${i.severity}  ${i.status.padEnd(13)}  #${i.channelName}  ${i.title}  (commander ${userRef(i.roles.commander ?? '?')})`,
      );
      return { text: joinRich([`Open incidents (${open.length}):`, ...lines], '\n') };
    },
  },
];

const TABLE: SubcommandTable<IncidentCommandDeps> = {
  command: '/incident',
  subcommands: SUBCOMMANDS,
  example: '/incident sev 2 or /incident declare <title> sev=2',
  allowed: (deps, ctx, spec) => deps.access.may(ctx.actor, { action: spec.action!, channel: ctx.channelId }),
};

export const handleIncidentCommand = (deps: IncidentCommandDeps, ctx: CommandContext, input: string): Promise<CommandReply> =>
  dispatchSubcommand(TABLE, deps, ctx, input);
