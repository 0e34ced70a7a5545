// `edgeops export INCIDENT [--format md|json|html] [--out FILE]`: the postmortem transcript.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { EXPORT_FORMATS, type ExportFormat } from '../core/commands/incident-commands.js';
import { parseIncidentId } from '../core/incidents/incident.js';
import { writeTranscript } from '../adapters/export/write-transcript.js';
import { transcriptSource } from '../storage/transcript-source.js';
import { bootApp } from './bootstrap.js';
import { write, type Subcommand } from './cli-io.js';

export const exportCommand: Subcommand = async (argv, io) => {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { format: { type: 'string', default: 'md' }, out: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) {
    write(io.stderr, 'usage: edgeops export INCIDENT [--format md|json|html] [--out FILE]');
    return 1;
  }
  const format = values.format as ExportFormat;
  if (!EXPORT_FORMATS.includes(format)) {
    write(io.stderr, `edgeops export: --format must be md, json or html (got "${values.format}")`);
    return 1;
  }
  const id = parseIncidentId(positionals[0]!);
  const { app } = bootApp(io, { generateKey: false, logTo: 'file' });
  try {
    if (values.out) {
      const file = await app.exportFile(id, format, path.resolve(io.cwd, values.out));
      write(io.stderr, `wrote ${file}`);
    } else {
      await writeTranscript(transcriptSource(app.store, id), format, io.stdout, { end: false });
    }
    return 0;
  } finally {
    app.close();
  }
};
