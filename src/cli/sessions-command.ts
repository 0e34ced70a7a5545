// `edgeops sessions list | revoke ID…`: the portal's signed-in sessions, and ending them from the server.
import { resolveAuditKey } from '../audit-key.js';
import { createPortalSignIn, sessionHandle, SESSION_IDLE_MS } from '../core/portal/portal-sessions.js';
import { systemClock } from '../core/ports.js';
import { sqlitePortalSessions } from '../storage/sqlite-portal-sessions.js';
import { Store } from '../storage/store.js';
import { bootConfig } from './cli-config.js';
import { write, type Subcommand } from './cli-io.js';

const USAGE = 'usage: edgeops sessions list | edgeops sessions revoke ID [ID…]   (ID: the first 8 or more characters shown by list)';
const time = (ms: number): string => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

export const sessionsCommand: Subcommand = async (argv, io) => {
  const [verb, ...ids] = argv;
  if ((verb !== 'list' || ids.length > 0) && (verb !== 'revoke' || ids.length === 0)) {
    write(io.stderr, USAGE);
    return 1;
  }
  const config = bootConfig(io);
  const { key } = resolveAuditKey({ fromEnv: config.auditKey, dataDir: config.dataDir, generate: false });
  const store = Store.create({ file: config.dbPath, auditKey: key, clock: systemClock });
  try {
    const signIn = createPortalSignIn({
      store: store.guard(sqlitePortalSessions(store.db)),
      clock: systemClock,
      audit: async (entry) => {
        await store.transaction(() => store.audit.append({ ...entry, incidentId: entry.incidentId ?? null }));
      },
    });
    if (verb === 'list') {
      const now = systemClock.now();
      const live = (await signIn.list()).filter((s) => now - s.lastSeenAt <= SESSION_IDLE_MS);
      if (live.length === 0) {
        write(io.stdout, 'No portal sessions.');
        return 0;
      }
      write(io.stdout, 'ID            USER         METHOD  SIGNED IN (UTC)      LAST SEEN (UTC)');
      for (const s of live)
        write(io.stdout, `${sessionHandle(s)}  ${s.userId.padEnd(11)}  ${s.method.padEnd(6)}  ${time(s.createdAt)}  ${time(s.lastSeenAt)}`);
      return 0;
    }
    let failed = 0;
    for (const id of ids) {
      const ended = await signIn.revoke(id.toLowerCase(), { id: 'system', groups: [] }, 'cli');
      if (ended.length === 0) {
        write(io.stderr, `edgeops sessions: no session ${id}; \`edgeops sessions list\` shows them`);
        failed += 1;
      } else {
        for (const s of ended) write(io.stdout, `revoked ${sessionHandle(s)} (${s.userId})`);
      }
    }
    return failed > 0 ? 1 : 0;
  } finally {
    store.close();
  }
};
