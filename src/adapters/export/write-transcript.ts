// Streams a rendered transcript into a file or stream with back-pressure, in large chunks.
import { createWriteStream, mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ExportFormat } from '../../core/commands/incident-commands.js';
import { RENDERERS, type TranscriptSource } from '../../core/export/transcript.js';

const CHUNK = 64 * 1024;

function* batched(parts: Iterable<string>): Generator<string> {
  let buffer = '';
  for (const part of parts) {
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

export async function writeTranscriptFile(source: TranscriptSource, format: ExportFormat, file: string): Promise<string> {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeTranscript(source, format, createWriteStream(tmp));
  renameSync(tmp, file);
  return file;
}
