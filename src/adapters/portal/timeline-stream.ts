// Live timelines over Server-Sent Events: each open incident page is sent the events recorded after the last one it has.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InputError } from '../../errors.js';
import type { PortalDeps } from './portal-deps.js';
import { query, type Viewer } from './portal-request.js';
import { liveEvent, visibleIncident } from './pages/incident-page.js';
import { SECURITY_HEADERS } from './security.js';

/** Polling the indexed timeline this often keeps a note typed in Slack under a second from the page. */
export const LIVE_POLL_MS = 250;
const HEARTBEAT_MS = 15_000;
/** The session and the viewer's right to the incident are checked again this often while a stream is open. */
const RECHECK_MS = 30_000;
const BATCH = 200;

export interface TimelineStreams {
  /** A property, not a method: the route table holds it detached from this object. */
  route: (deps: PortalDeps, req: IncomingMessage, res: ServerResponse, viewer: Viewer) => Promise<void>;
  /** Ends every open stream (the server is stopping). */
  closeAll(): void;
}

export function createTimelineStreams(): TimelineStreams {
  const open = new Set<() => void>();
  return {
    closeAll() {
      for (const end of [...open]) end();
    },
    async route(deps, req, res, viewer) {
      const q = query(req);
      const incident = await visibleIncident(deps, viewer, q.get('id'));
      const afterText = (req.headers['last-event-id'] as string | undefined) ?? q.get('after') ?? '0';
      if (!/^\d{1,15}$/.test(afterText)) throw new InputError(`after must be an event number (got "${afterText}")`);
      let after = Number(afterText);
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', 'x-accel-buffering': 'no' });
      res.write('retry: 2000\n\n');
      const pollMs = deps.livePollMs ?? LIVE_POLL_MS;
      let timer: NodeJS.Timeout | undefined;
      let ended = false;
      let lastBeat = Date.now();
      let lastCheck = Date.now();
      const end = (): void => {
        if (ended) return;
        ended = true;
        clearTimeout(timer);
        open.delete(end);
        if (!res.writableEnded) res.end();
      };
      open.add(end);
      req.on('close', end);
      const tick = async (): Promise<void> => {
        if (ended) return;
        try {
          if (Date.now() - lastCheck >= RECHECK_MS) {
            lastCheck = Date.now();
            const still = await deps.signIn.session(viewer.sessionId);
            if (!still) {
              end();
              return;
            }
            await visibleIncident(deps, viewer, incident.id);
          }
          const events = await deps.read.eventsAfter(incident.id, after, BATCH);
          for (const e of events) {
            res.write(`id: ${e.seq}\nevent: timeline\ndata: ${liveEvent(e)}\n\n`);
            after = e.seq;
          }
          if (events.length === 0 && Date.now() - lastBeat >= HEARTBEAT_MS) res.write(': still here\n\n');
          if (events.length > 0 || Date.now() - lastBeat >= HEARTBEAT_MS) lastBeat = Date.now();
        } catch (err) {
          deps.logger.warn({ err, incidentId: incident.id }, 'live timeline stopped');
          end();
          return;
        }
        // `ended` can turn true during the awaits above (the client closed, `closeAll`); the rule
        // keeps the narrowing from the check at the top of `tick` and cannot see that.
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
        if (!ended) timer = setTimeout(() => void tick(), pollMs);
      };
      await tick();
    },
  };
}
