// Dispatch shared by every slash command: parse, pick the subcommand, check its options, help.
import { InputError } from '../../errors.js';
import type { CommandContext, CommandReply, SubcommandSpec } from './command-context.js';
import { expectOnly, parseArgs } from './grammar.js';

export interface SubcommandTable<Deps> {
  /** `/incident` */
  command: string;
  subcommands: ReadonlyArray<SubcommandSpec<Deps>>;
  /** Shown when options come before any subcommand, e.g. `/incident sev 2`. */
  example: string;
  /** Whether the caller may use a subcommand (help lists only those). */
  allowed: (deps: Deps, ctx: CommandContext, spec: SubcommandSpec<Deps>) => boolean;
}

export function helpText<Deps>(table: SubcommandTable<Deps>, deps: Deps, ctx: CommandContext): string {
  const mine = table.subcommands.filter((s) => s.action === undefined || table.allowed(deps, ctx, s));
  return [
    `What you can do with ${table.command}:`,
    ...mine.map((s) => `  ${table.command} ${s.usage} — ${s.summary}`),
    `  ${table.command} help — this list`,
  ].join('\n');
}

export async function dispatchSubcommand<Deps>(table: SubcommandTable<Deps>, deps: Deps, ctx: CommandContext, input: string): Promise<CommandReply> {
  const args = parseArgs(input);
  const name = args.words.shift()?.toLowerCase();
  if (name === undefined && (Object.keys(args.params).length > 0 || args.flags.length > 0)) {
    throw new InputError(`say what to do first, e.g. ${table.example}`);
  }
  if (name === undefined || name === 'help') return { text: helpText(table, deps, ctx) };
  const spec = table.subcommands.find((s) => s.name === name);
  if (!spec) {
    throw new InputError(`unknown subcommand "${name}"; try ${table.subcommands.map((s) => s.name).join(', ')} or help`);
  }
  // Subcommands taking free-form parameters (a procedure's) check them themselves.
  expectOnly(spec.anyParams ? { ...args, params: {} } : args, spec.name, { params: spec.params, flags: spec.flags });
  return spec.run(deps, ctx, args);
}
