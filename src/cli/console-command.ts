// `edgeops console [--as USER] [--groups S…]`: local mode, a terminal that stands in for Slack.
import { parseArgs } from 'node:util';
import { runConsole } from '../adapters/console/run-console.js';
import { bootApp } from './bootstrap.js';
import type { Subcommand } from './cli-io.js';

export const DEFAULT_LOCAL_USER = 'U0LOCAL01';

export const consoleCommand: Subcommand = async (argv, io) => {
  const { values } = parseArgs({
    args: argv,
    options: { as: { type: 'string', default: DEFAULT_LOCAL_USER }, groups: { type: 'string', default: '' } },
    strict: true,
  });
  const booted = await bootApp(io, { generateKey: true, logTo: 'file', watchCatalog: true, recoverRuns: true, schedule: true });
  const { app, logFile, interrupted } = booted;
  try {
    await runConsole(app, io, { user: values.as, groups: values.groups, logFile, interrupted });
    return 0;
  } finally {
    await booted.close();
  }
};
