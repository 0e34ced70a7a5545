#!/usr/bin/env node
// The edgeops CLI: dispatches to one subcommand file each, loaded only when called.
import { isEdgeopsError, ConfigError } from './errors.js';
import type { CliIo, Subcommand } from './cli/cli-io.js';

interface Entry {
  usage: string;
  summary: string;
  load: () => Promise<Subcommand>;
}

export const SUBCOMMANDS: Record<string, Entry> = {
  serve: {
    usage: 'serve',
    summary: 'run the bot (Slack when configured, otherwise local mode)',
    load: async () => (await import('./cli/serve-command.js')).serveCommand,
  },
  console: {
    usage: 'console [--as USER_ID] [--groups S…,S…]',
    summary: 'local mode: a terminal that stands in for Slack',
    load: async () => (await import('./cli/console-command.js')).consoleCommand,
  },
  demo: {
    usage: 'demo',
    summary: 'a scripted incident in local mode, from declare to postmortem; writes ./exports/INC-n.md',
    load: async () => (await import('./cli/demo-command.js')).demoCommand,
  },
  validate: {
    usage: 'validate [--policies DIR] [--commands DIR]',
    summary: 'lint policy and procedure files; file:line:col errors, exit 1 on any',
    load: async () => (await import('./cli/validate-command.js')).validateCommand,
  },
  policy: {
    usage: 'policy explain --user U… [--groups S…,S…] --procedure NAME --env ENV [--action run]',
    summary: 'the decision and every matching rule; exit 0 allowed, 2 needs approval, 3 denied',
    load: async () => (await import('./cli/policy-command.js')).policyCommand,
  },
  export: {
    usage: 'export INCIDENT [--format md|json|html] [--out FILE]',
    summary: 'write the postmortem transcript of an incident',
    load: async () => (await import('./cli/export-command.js')).exportCommand,
  },
  run: {
    usage: 'run NAME [key=value …] --env ENV --as U… [--groups S…] [--dry-run]',
    summary: 'run a procedure from a terminal, through the same policy and runner',
    load: async () => (await import('./cli/run-command.js')).runCommand,
  },
  audit: {
    usage: 'audit verify [--db FILE] [--expect-head SEQ:HASH] | audit anchor [--db FILE]',
    summary: 'check the audit chain and the tables exports read, naming what differs; anchor prints the head as SEQ:HASH',
    load: async () => (await import('./cli/audit-command.js')).auditCommand,
  },
  sessions: {
    usage: 'sessions list | sessions revoke ID…',
    summary: 'the ops portal sessions signed in now; revoke ends one (its ID from list)',
    load: async () => (await import('./cli/sessions-command.js')).sessionsCommand,
  },
  migrate: {
    usage: 'migrate [--from FILE [--to postgres://…]]',
    summary: 'apply pending database migrations (also done at start); --from copies a SQLite database into PostgreSQL',
    load: async () => (await import('./cli/migrate-command.js')).migrateCommand,
  },
};

export function usage(): string {
  const width = Math.max(...Object.values(SUBCOMMANDS).map((e) => e.usage.length));
  const lines = Object.values(SUBCOMMANDS).map((e) => `  edgeops ${e.usage.padEnd(width)}  ${e.summary}`);
  return ['usage: edgeops <subcommand> [options]', '', ...lines, '', 'Configuration is read from the environment; see README.md.'].join('\n');
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(`${usage()}\n`);
    return name === undefined ? 1 : 0;
  }
  const entry = SUBCOMMANDS[name];
  if (!entry) {
    io.stderr.write(`edgeops: unknown subcommand "${name}"; see edgeops --help\n`);
    return 1;
  }
  try {
    return await (
      await entry.load()
    )(rest, io);
  } catch (err) {
    if (err instanceof ConfigError) io.stderr.write(`edgeops ${name}: ${err.message}\n`);
    else if (isEdgeopsError(err)) io.stderr.write(`edgeops ${name}: ${err.message}\n`);
    else io.stderr.write(`edgeops ${name}: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}

const invokedDirectly = process.argv[1] !== undefined && /(?:cli\.[jt]s|edgeops(?:\.js)?)$/.test(process.argv[1]);
if (invokedDirectly) {
  runCli(process.argv.slice(2), {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`edgeops: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
