// The terminal stand-in for Slack: reads lines as a chosen user in a chosen channel, prints replies and posts.
import type { App } from '../../app-ports.js';
import type { CommandContext } from '../../core/commands/command-context.js';
import { parseArgs } from '../../core/commands/grammar.js';
import { parseIncidentId } from '../../core/incidents/incident.js';
import type { Actor } from '../../core/ports.js';
import { isUserId } from '../../core/user-id.js';
import { isEdgeopsError, ErrorCode } from '../../errors.js';
import { drainToConsole, renderPost } from './console-delivery.js';
import { consoleText } from './console-text.js';

const GROUP = /^S[A-Z0-9]{2,}$/;

export const CONSOLE_HELP = [
  'Console commands (local mode stands in for Slack):',
  '  /incident …          incident commands (/incident help)',
  '  /as USER [S1,S2]     act as another Slack user, with their user groups',
  '  /channel [NAME|INC-n] move to a channel (an incident channel implies its incident)',
  '  /whoami              who and where you are',
  '  /portal              a one-time sign-in link to the ops portal, as the current user',
  '  /help                this list;  /quit to leave',
].join('\n');

export interface ConsoleSession {
  /** Prints whatever is waiting to be posted (e.g. runs interrupted by the last stop). */
  flush(): Promise<void>;
  /** Stops printing posts queued by background work; call before the database closes. */
  close(): void;
  /** Handles one line; resolves when its output is written. Returns false when the user quits. */
  handleLine(line: string): Promise<boolean>;
  prompt(): string;
}

/** What a console session uses: commands, incidents as the user may see them, the outbox it prints, the log. */
export type ConsolePorts = Pick<App, 'handle' | 'incidents' | 'visibility' | 'outboxes' | 'onMessages' | 'clock' | 'logger' | 'portalLink'>;

export function createConsoleSession(app: ConsolePorts, options: { actor: Actor; write: (text: string) => void }): ConsoleSession {
  let actor: Actor = options.actor;
  let channel = 'general';
  const write = options.write;

  /** One drain at a time: two at once would both print what neither has marked sent yet. */
  let draining: Promise<void> = Promise.resolve();
  function flushPosts(): Promise<void> {
    const next = draining.then(async () => {
      for (const post of await drainToConsole(app.outboxes, app.incidents, app.clock.now)) write(renderPost(post));
    });
    draining = next.catch(() => undefined);
    return next;
  }
  // Runs finish after their command has answered: their messages print as they are queued,
  // after the reply of the command being handled (as Slack shows the ack first).
  let closed = false;
  const unsubscribe = app.onMessages(() =>
    setImmediate(() => {
      if (!closed) flushPosts().catch((err: unknown) => app.logger.error({ err }, 'console messages could not be printed'));
    }),
  );

  function explain(err: unknown): string {
    if (isEdgeopsError(err)) {
      const label: Record<string, string> = {
        [ErrorCode.Input]: 'error',
        [ErrorCode.NotAllowed]: 'not allowed',
        [ErrorCode.NotFound]: 'not found',
        [ErrorCode.Conflict]: 'conflict',
      };
      return `✗ ${label[err.code] ?? 'error'}: ${err.message}`;
    }
    app.logger.error({ err }, 'console command failed');
    return '✗ something went wrong; the log has the details';
  }

  function switchUser(rest: string): string {
    const args = parseArgs(rest);
    const [user, groupList] = args.words;
    if (!user || !isUserId(user)) return '✗ error: /as takes a Slack user ID such as U0123ABCD, then optional groups S1,S2';
    const groups = (args.params.groups ?? groupList ?? '')
      .split(',')
      .map((g) => g.trim())
      .filter(Boolean);
    const bad = groups.filter((g) => !GROUP.test(g));
    if (bad.length > 0) return `✗ error: ${bad.join(', ')} ${bad.length === 1 ? 'is not a user-group ID' : 'are not user-group IDs'} (S…)`;
    actor = { id: user, groups };
    return `You are now ${user}${groups.length > 0 ? ` in ${groups.join(', ')}` : ''}.`;
  }

  async function switchChannel(rest: string): Promise<string> {
    const target = rest.trim().replace(/^#/, '');
    if (!target) return `You are in #${channel}.`;
    // A private incident the current user may not see is answered and shown as if it were not there.
    if (/^(INC-)?\d+$/i.test(target)) {
      const id = parseIncidentId(target);
      const incident = await app.incidents.find(id);
      if (!incident || !(await app.visibility.canSee({ actor, channelId: channel }, incident))) return `✗ not found: ${id} does not exist`;
      channel = incident.channelId ?? incident.channelName;
    } else {
      if (!/^[a-z0-9][a-z0-9_-]{0,79}$/.test(target)) return '✗ error: channel names are lowercase letters, digits, - and _';
      channel = target;
    }
    const incident = await app.visibility.byChannel({ actor, channelId: channel }, channel);
    return `You are in #${channel}${incident ? ` (${incident.id}: ${incident.title})` : ''}.`;
  }

  return {
    flush: flushPosts,
    close() {
      closed = true;
      unsubscribe();
    },
    prompt: () => `${actor.id} #${channel}> `,

    async handleLine(raw: string): Promise<boolean> {
      const line = raw.trim();
      if (!line || line.startsWith('#')) return true;
      const space = line.search(/\s/);
      const command = (space < 0 ? line : line.slice(0, space)).toLowerCase();
      const rest = space < 0 ? '' : line.slice(space + 1);
      switch (command) {
        case '/quit':
        case '/exit':
          return false;
        case '/help':
          write(CONSOLE_HELP);
          return true;
        case '/as':
          write(switchUser(rest));
          return true;
        case '/channel':
        case '/join':
          write(await switchChannel(rest));
          return true;
        case '/portal':
          try {
            write(`Sign in to the ops portal as ${actor.id} (once, within 10 minutes): ${await app.portalLink(actor, 'console')}`);
          } catch (err) {
            write(explain(err));
          }
          return true;
        case '/whoami':
          write(`You are ${actor.id}${actor.groups.length ? ` in ${actor.groups.join(', ')}` : ''}, in #${channel}.`);
          return true;
        default:
          break;
      }
      if (!command.startsWith('/')) {
        write('✗ error: type a slash command such as /incident help (or /help for the console)');
        return true;
      }
      const ctx: CommandContext = { actor, source: 'console', channelId: channel };
      try {
        const reply = await app.handle(ctx, command, rest);
        write(`(only you) ${consoleText(reply.text)}`);
        await flushPosts();
        // Slack invites the declarer into the new channel; the console moves them there.
        if (command === '/incident' && reply.incidentId && /^\s*declare\b/i.test(rest)) {
          const incident = await app.incidents.find(reply.incidentId);
          if (incident) channel = incident.channelId ?? incident.channelName;
        }
      } catch (err) {
        write(explain(err));
      }
      return true;
    },
  };
}
