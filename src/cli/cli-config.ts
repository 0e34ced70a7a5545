// The configuration as a subcommand sees it; kept apart from bootstrap so light commands load little.
import { loadConfig, type Config } from '../config.js';
import type { CliIo } from './cli-io.js';

export function bootConfig(io: CliIo): Config {
  return loadConfig(io.env, { cwd: io.cwd });
}
