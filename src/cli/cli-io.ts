// What every CLI subcommand receives: its arguments and the process's streams and environment.
import type { Readable, Writable } from 'node:stream';
import type { Env } from '../config.js';

export interface CliIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: Env;
  cwd: string;
}

/** A subcommand returns its exit code; the one-line reason for a failure goes to stderr. */
export type Subcommand = (argv: string[], io: CliIo) => Promise<number>;

export const write = (stream: Writable, text: string): void => {
  stream.write(text.endsWith('\n') ? text : `${text}\n`);
};
