// `edgeops export INCIDENT [--format md|json|html] [--out FILE]`: the postmortem transcript.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeTranscript, writeTranscriptFile } from '../adapters/export/write-transcript.js';
import { resolveAuditKey } from '../audit-key.js';
import { EXPORT_FORMATS, type ExportFormat } from '../core/commands/incident-commands.js';
import { parseIncidentId } from '../core/incidents/incident.js';
import { openRecord } from '../app.js';
import { bootConfig } from './cli-config.js';
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
  // Exporting reads the record only: it needs neither the policy catalog nor a writable key.
  const config = bootConfig(io);
  const { key } = resolveAuditKey({ fromEnv: config.auditKey, dataDir: config.dataDir, generate: false });
  const record = await openRecord({ file: config.dbPath, auditKey: key, ...(config.postgres ? { postgres: config.postgres } : {}) });
  try {
    const source = await record.transcript(id);
    if (values.out) {
      write(io.stderr, `wrote ${await writeTranscriptFile(source, format, path.resolve(io.cwd, values.out))}`);
    } else {
      await writeTranscript(source, format, io.stdout, { end: false });
    }
    return 0;
  } finally {
    await record.close();
  }
};
