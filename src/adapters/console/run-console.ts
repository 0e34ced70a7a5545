// Drives a console session over a terminal or piped stdin, one line at a time, with the local-mode banner.
import { createInterface } from 'node:readline';
import type { App } from '../../app-ports.js';
import type { CliIo } from '../../cli/cli-io.js';
import type { Run } from '../../core/runs/run.js';
import { USER_ID } from '../../core/user-id.js';
import { InputError } from '../../errors.js';
import { createConsoleSession, type ConsolePorts } from './console-session.js';

/** What the terminal console is given: a session's services, the configuration it shows, and runs to wait for. */
export type RunConsolePorts = ConsolePorts & Pick<App, 'config' | 'runs'>;

export function localBanner(app: Pick<App, 'config'>, extra: { user: string; logFile?: string; httpUrl?: string }): string {
  const c = app.config;
  return [
    'edgeops — LOCAL MODE (no Slack credentials found): this terminal stands in for Slack.',
    `  database   ${c.postgres?.display ?? c.dbPath}`,
    `  policies   ${c.policiesDir}`,
    `  procedures ${c.commandsDir}`,
    ...(extra.httpUrl ? [`  http       ${extra.httpUrl} (/healthz, PagerDuty webhooks, the ops portal at /portal: type /portal for a sign-in link)`] : []),
    ...(extra.logFile ? [`  logs       ${extra.logFile}`] : []),
    `  You are ${extra.user}. Type /incident help, or /help for the console; /as U123 S1,S2 switches user.`,
    '  To connect Slack: set SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and EDGEOPS_AUDIT_KEY, then npm start (README: "Connect to Slack").',
    '',
  ].join('\n');
}

export async function runConsole(
  app: RunConsolePorts,
  io: CliIo,
  options: { user: string; groups: string; logFile?: string; httpUrl?: string; interrupted?: Run[] },
): Promise<void> {
  if (!USER_ID.test(options.user)) throw new InputError(`--as takes a Slack user ID such as U0123ABCD (got "${options.user}")`);
  const groups = options.groups
    .split(',')
    .map((g) => g.trim())
    .filter(Boolean);
  const bad = groups.find((g) => !/^S[A-Z0-9]{2,}$/.test(g));
  if (bad) throw new InputError(`--groups takes user-group IDs such as S0123ABCD (got "${bad}")`);

  const write = (text: string): void => {
    io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  };
  const interactive = 'isTTY' in io.stdin && io.stdin.isTTY === true;
  write(localBanner(app, { user: options.user, logFile: options.logFile, httpUrl: options.httpUrl }));
  const session = createConsoleSession(app, { actor: { id: options.user, groups }, write });
  for (const run of options.interrupted ?? []) {
    write(
      `⚠ ${run.id} ${run.procedure} (${run.environment}) was interrupted when edgeops last stopped; its processes were stopped and it will not re-run by itself.`,
    );
  }
  await session.flush();
  const rl = createInterface({ input: io.stdin, output: interactive ? io.stdout : undefined, terminal: interactive });
  if (interactive) {
    rl.setPrompt(session.prompt());
    rl.prompt();
  }
  for await (const line of rl) {
    if (!interactive && line.trim()) write(`${session.prompt()}${line}`);
    const goOn = await session.handleLine(line);
    if (!goOn) break;
    if (interactive) {
      rl.setPrompt(session.prompt());
      rl.prompt();
    }
  }
  rl.close();
  // Piped input may end while runs still execute: their results are part of the session.
  await app.runs.idle();
  await session.flush();
  session.close();
}
