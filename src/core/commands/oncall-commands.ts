// `/oncall [service]`: who is on call now, by escalation level, asked of the pager (PagerDuty).
import { InputError, UnavailableError } from '../../errors.js';
import type { OncallEntry, Pager, PagerService } from '../pager.js';
import type { CommandContext, CommandReply, SubcommandSpec } from './command-context.js';
import { expectOnly, parseArgs, type ParsedArgs } from './grammar.js';
import { helpText, type SubcommandTable } from './subcommands.js';

export interface OncallCommandDeps {
  /** Null when no PagerDuty API token is configured. */
  pager: Pager | null;
  /**
   * A signal that aborts when the answer would come too late to be useful (chat gives a command a
   * few seconds); one per command, shared by its calls.
   */
  deadline?: () => AbortSignal;
}

export const NO_PAGER_TEXT =
  '/oncall asks PagerDuty, and edgeops has no PagerDuty API token. Set PAGERDUTY_API_TOKEN (a read-only REST API key is enough) and restart edgeops.';

/** Past this many escalation policies the full list is too long for chat; naming a service narrows it. */
const MAX_POLICIES = 15;

const lower = (s: string): string => s.trim().toLowerCase();

/** The one service a query means: an exact id or name, else the only match; several are a question back. */
function pickService(query: string, found: PagerService[]): PagerService {
  const exact = found.filter((s) => s.id === query.trim() || lower(s.name) === lower(query));
  if (exact.length === 1) return exact[0]!;
  if (found.length === 1) return found[0]!;
  if (found.length === 0) throw new InputError(`no PagerDuty service matches "${query}"; /oncall without a service shows every escalation policy`);
  const shown = found.slice(0, 10).map((s) => s.name);
  throw new InputError(
    `${found.length} PagerDuty services match "${query}": ${shown.join(', ')}${found.length > shown.length ? ', …' : ''}. Give the full name (in quotes if it has spaces).`,
  );
}

function shift(entry: OncallEntry): string {
  const until = entry.until ? `until ${entry.until.replace('T', ' ').replace(/:\d\d(?:\.\d+)?(?:Z|[+-]00:?00)$/, ' UTC')}` : null;
  const parts = [entry.schedule ? entry.schedule : 'always on call', ...(until ? [until] : [])];
  return `${entry.user.name} (${parts.join(', ')})`;
}

/** `Level 1: Alice (Primary, until …), Bob (…)` for each level of one policy, lowest level first. */
function levelLines(entries: OncallEntry[]): string[] {
  const byLevel = new Map<number, OncallEntry[]>();
  for (const e of entries) {
    const list = byLevel.get(e.level) ?? [];
    // The same person on the same level through the same schedule is one line, however PagerDuty lists it.
    if (!list.some((o) => o.user.id === e.user.id && o.schedule === e.schedule)) list.push(e);
    byLevel.set(e.level, list);
  }
  return [...byLevel.keys()].sort((a, b) => a - b).map((level) => `  Level ${level}: ${byLevel.get(level)!.map(shift).join(', ')}`);
}

async function ask<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof UnavailableError) throw new UnavailableError(`PagerDuty did not answer: ${err.message}. Try /oncall again in a moment.`, { cause: err });
    throw err;
  }
}

async function showOncall(deps: OncallCommandDeps, _ctx: CommandContext, args: ParsedArgs): Promise<CommandReply> {
  const pager = deps.pager;
  if (!pager) return { text: NO_PAGER_TEXT };
  const signal = deps.deadline?.();
  const query = args.words.join(' ').trim();

  if (query) {
    const service = pickService(query, await ask(() => pager.findServices(query, signal)));
    if (!service.escalationPolicy) return { text: `PagerDuty service ${service.name} has no escalation policy, so nobody is paged for it.` };
    const entries = (await ask(() => pager.oncalls([service.escalationPolicy!.id], signal))).filter(
      (e) => e.escalationPolicy.id === service.escalationPolicy!.id,
    );
    const head = `On call now for ${service.name} (escalation policy ${service.escalationPolicy.name}):`;
    return { text: entries.length === 0 ? `${head}\n  nobody is on call right now.` : [head, ...levelLines(entries)].join('\n') };
  }

  const entries = await ask(() => pager.oncalls([], signal));
  if (entries.length === 0) return { text: 'Nobody is on call right now in PagerDuty.' };
  const policies = new Map<string, { name: string; entries: OncallEntry[] }>();
  for (const e of entries) {
    const p = policies.get(e.escalationPolicy.id) ?? { name: e.escalationPolicy.name, entries: [] };
    p.entries.push(e);
    policies.set(e.escalationPolicy.id, p);
  }
  const sorted = [...policies.values()].sort((a, b) => a.name.localeCompare(b.name));
  const lines = ['On call now, by escalation policy:'];
  for (const p of sorted.slice(0, MAX_POLICIES)) lines.push(`${p.name}:`, ...levelLines(p.entries));
  if (sorted.length > MAX_POLICIES) lines.push(`… and ${sorted.length - MAX_POLICIES} more escalation policies; /oncall <service> shows one.`);
  return { text: lines.join('\n') };
}

const SHOW: SubcommandSpec<OncallCommandDeps> = {
  name: 'show',
  usage: '[service]',
  summary: 'who is on call now in PagerDuty, by escalation level (every escalation policy, or the one paging for a service)',
  run: showOncall,
};

const TABLE: SubcommandTable<OncallCommandDeps> = {
  command: '/oncall',
  subcommands: [SHOW],
  example: '/oncall checkout',
  allowed: () => true,
};

/** The whole text names a service (or nothing); `help` is the only word with a meaning of its own. */
export async function handleOncallCommand(deps: OncallCommandDeps, ctx: CommandContext, input: string): Promise<CommandReply> {
  const args = parseArgs(input);
  if (args.words.length === 1 && lower(args.words[0]!) === 'help') return { text: helpText(TABLE, deps, ctx) };
  expectOnly(args, '/oncall', {});
  return showOncall(deps, ctx, args);
}
