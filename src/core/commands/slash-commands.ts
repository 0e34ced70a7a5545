// Routes a slash command (`/incident`, `/runbook`, `/oncall`) to its handler; every adapter calls this.
import { InputError } from '../../errors.js';
import type { CommandContext, CommandReply } from './command-context.js';

export type SlashHandler = (ctx: CommandContext, text: string) => Promise<CommandReply>;

export function createSlashRouter(handlers: Record<string, SlashHandler>) {
  const names = Object.keys(handlers);
  return async function handleSlashCommand(ctx: CommandContext, command: string, text: string): Promise<CommandReply> {
    const name = command.startsWith('/') ? command : `/${command}`;
    const handler = handlers[name];
    if (!handler) throw new InputError(`unknown command ${name}; edgeops answers ${names.join(', ')}`);
    return handler(ctx, text);
  };
}
export type SlashRouter = ReturnType<typeof createSlashRouter>;
