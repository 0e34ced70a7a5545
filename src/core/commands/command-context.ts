// What every command handler receives, whichever adapter (Slack, console) the request came from.
import type { Actor, Source } from '../ports.js';
import type { ChatText } from '../rich-text.js';

export interface CommandContext {
  actor: Actor;
  source: Source;
  /** The channel the command was typed in (Slack channel ID, or the console's current channel). */
  channelId: string | null;
}

export interface CommandReply {
  /** What the caller sees (ephemeral in Slack), rendered by the surface that asked. */
  text: ChatText;
  /** The incident the command acted on, if any. */
  incidentId?: string;
}

export interface SubcommandSpec<Deps> {
  name: string;
  usage: string;
  summary: string;
  /** The policy action this subcommand needs; undefined = anyone may (help). */
  action?: string;
  params?: readonly string[];
  /** Takes any key=value (a procedure's parameters) and checks them itself. */
  anyParams?: boolean;
  flags?: readonly string[];
  run: (deps: Deps, ctx: CommandContext, args: import('./grammar.js').ParsedArgs) => CommandReply | Promise<CommandReply>;
}
