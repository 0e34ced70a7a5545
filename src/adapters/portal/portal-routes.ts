// The portal's route table (every page and action, one line each) and what runs beside it (the session sweep, live streams).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isEdgeopsError } from '../../errors.js';
import type { RouteHandler } from '../http/http-server.js';
import { PORTAL_CSS, PORTAL_JS } from './assets.js';
import type { PortalDeps } from './portal-deps.js';
import { PATHS } from './portal-paths.js';
import { redirect, sendError, toSignIn, viewerOf, type Viewer } from './portal-request.js';
import { decideRoute, exportRoute } from './portal-actions.js';
import { incidentPage } from './pages/incident-page.js';
import { incidentsPage } from './pages/incidents-page.js';
import { runPage } from './pages/run-page.js';
import { OPS_PATHS } from './portal-ops-paths.js';
import { dryRunPost, proceduresPage, runPost } from './pages/procedures-page.js';
import { reportsPage } from './pages/reports-page.js';
import { auditPage } from './pages/audit-page.js';
import { signInPage, signInPost, signOutPost } from './pages/sign-in-page.js';
import { oidcCallback, oidcStart } from './slack-oidc.js';
import { createTimelineStreams } from './timeline-stream.js';
import { send } from './security.js';

type Open = (deps: PortalDeps, req: IncomingMessage, res: ServerResponse) => Promise<void>;
type SignedIn = (deps: PortalDeps, req: IncomingMessage, res: ServerResponse, viewer: Viewer) => Promise<void>;

/** How often sessions past their idle expiry (and expired links) are deleted. */
export const SWEEP_EVERY_MS = 10 * 60_000;

export interface Portal {
  routes: Record<string, RouteHandler>;
  start(): void;
  stop(): void;
}

const asset =
  (type: string, body: string): Open =>
  async (_deps, _req, res) =>
    send(res, 200, type, body, { 'cache-control': 'public, max-age=300' });

export function mountPortal(deps: PortalDeps): Portal {
  const streams = createTimelineStreams();

  const open: Record<string, Open> = {
    [`GET ${PATHS.signIn}`]: signInPage,
    [`POST ${PATHS.signIn}`]: signInPost,
    [`POST ${PATHS.signOut}`]: signOutPost,
    [`GET ${PATHS.slackSignIn}`]: oidcStart,
    [`GET ${PATHS.slackCallback}`]: oidcCallback,
    [`GET ${PATHS.css}`]: asset('text/css; charset=utf-8', PORTAL_CSS),
    [`GET ${PATHS.js}`]: asset('text/javascript; charset=utf-8', PORTAL_JS),
  };
  const signedIn: Record<string, SignedIn> = {
    [`GET ${PATHS.home}`]: async (_deps, _req, res) => redirect(res, PATHS.incidents),
    [`GET ${PATHS.incidents}`]: incidentsPage,
    [`GET ${PATHS.incident}`]: incidentPage,
    [`GET ${PATHS.events}`]: streams.route,
    [`GET ${PATHS.exportFile}`]: exportRoute,
    [`GET ${PATHS.run}`]: runPage,
    [`POST ${PATHS.approve}`]: decideRoute('approve'),
    [`POST ${PATHS.deny}`]: decideRoute('deny'),
    [`GET ${OPS_PATHS.procedures}`]: proceduresPage,
    [`POST ${OPS_PATHS.dryRun}`]: dryRunPost,
    [`POST ${OPS_PATHS.runProcedure}`]: runPost,
    [`GET ${OPS_PATHS.reports}`]: reportsPage,
    [`GET ${OPS_PATHS.audit}`]: auditPage,
  };

  const routes: Record<string, RouteHandler> = {};
  for (const [key, page] of Object.entries(open)) {
    routes[key] = async (req, res) => {
      try {
        await page(deps, req, res);
      } catch (err) {
        if (!isEdgeopsError(err) || res.headersSent) throw err;
        sendError(deps, res, err);
      }
    };
  }
  for (const [key, page] of Object.entries(signedIn)) {
    routes[key] = async (req, res) => {
      const viewer = await viewerOf(deps, req);
      if (!viewer) {
        if (req.method === 'GET' && key !== `GET ${PATHS.events}`) toSignIn(req, res);
        else send(res, 401, 'text/plain; charset=utf-8', 'sign in first: /incident portal gives you a link\n');
        return;
      }
      try {
        await page(deps, req, res, viewer);
      } catch (err) {
        if (!isEdgeopsError(err) || res.headersSent) throw err;
        sendError(deps, res, err, viewer);
      }
    };
  }

  let sweeper: NodeJS.Timeout | undefined;
  const sweep = (): void => {
    deps.signIn.sweep().then(
      (n) => n > 0 && deps.logger.info({ sessions: n }, 'portal sessions past their idle expiry ended'),
      (err: unknown) => deps.logger.warn({ err }, 'portal session sweep failed'),
    );
  };
  return {
    routes,
    start() {
      sweep();
      sweeper = setInterval(sweep, SWEEP_EVERY_MS);
      sweeper.unref();
    },
    stop() {
      clearInterval(sweeper);
      streams.closeAll();
    },
  };
}
