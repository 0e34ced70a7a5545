// Streams a rendered transcript into a file or stream with back-pressure, in large chunks.
import { createWriteStream, renameSync } from 'node:fs';
import path from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ExportFormat } from '../../core/commands/incident-commands.js';
import { RENDERERS, type TranscriptSource } from '../../core/export/transcript.js';
import { PRIVATE_FILE_MODE, makePrivateDir } from '../../private-files.js';

const CHUNK = 64 * 1024;

async function* batched(parts: AsyncIterable<string>): AsyncGenerator<string> {
  let buffer = '';
  for await (const part of parts) {
    buffer += part;
    if (buffer.length >= CHUNK) {
      yield buffer;
      buffer = '';
    }
  }
  if (buffer) yield buffer;
}

export async function writeTranscript(source: TranscriptSource, format: ExportFormat, out: Writable, options: { end?: boolean } = {}): Promise<void> {
  const readable = Readable.from(batched(RENDERERS[format](source)), { objectMode: false });
  if (options.end === false) {
    for await (const chunk of readable) {
      if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', resolve));
    }
    return;
  }
  await pipeline(readable, out);
}

/** A transcript holds the incident's notes and run output: the file is 0600, a folder made for it 0700. */
export async function writeTranscriptFile(source: TranscriptSource, format: ExportFormat, file: string): Promise<string> {
  makePrivateDir(path.dirname(file));
  const tmp = `${file}.tmp-${process.pid}`;
  await writeTranscript(source, format, createWriteStream(tmp, { mode: PRIVATE_FILE_MODE }));
  renameSync(tmp, file);
  return file;
}
