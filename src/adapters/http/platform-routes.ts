// The routes every mode serves beside chat: health, metrics, run output links, PagerDuty webhooks and the ops portal.
import { createHmac } from 'node:crypto';
import type { App } from '../../app-ports.js';
import type { PortalDeps } from '../portal/portal-deps.js';
import { mountPortal } from '../portal/portal-routes.js';
import { portalOpsDeps } from '../portal/portal-ops-deps.js';
import { createMetrics, type Metrics } from '../metrics/metrics.js';
import { mountPagerduty, type MountPagerdutyOptions, type PagerdutyMountPorts } from '../pagerduty/index.js';
import { createBodyBudget, type BodyBudget } from './body-budget.js';
import { healthRoute, type RouteHandler } from './http-server.js';
import { RUN_OUTPUT_PATH, linkKey, runOutputRoute, type RunOutputPorts } from './run-output-link.js';

export interface Platform {
  routes: Record<string, RouteHandler>;
  metrics: Metrics;
  /** Caps the bytes of unverified bodies held at once; give it to every other route that reads one (Slack's). */
  bodyBudget: BodyBudget;
  /** Starts background work behind the routes (PagerDuty event processing and delivery). */
  start(): void;
  /** Resolves once stored PagerDuty events waiting now are processed (tests, the demo). */
  processed(): Promise<void>;
  stop(): Promise<void>;
}

/** What /healthz reads: whether the database takes writes, and the catalog in force. */
export type HealthPorts = Pick<App, 'health' | 'catalog'>;

/** What the platform routes are built from. */
export type PlatformPorts = HealthPorts & RunOutputPorts & PagerdutyMountPorts & Pick<App, 'metricsSource' | 'config' | 'logger'>;

/** 200 when the database takes writes and a valid policy is loaded; 503 with the reasons otherwise. */
export function appHealthRoute(app: HealthPorts): RouteHandler {
  return healthRoute(async () => {
    const reasons: string[] = [];
    if (!(await app.health.writable())) reasons.push('database is not writable');
    try {
      if (!app.catalog().policyHash) reasons.push('no valid policy is loaded');
    } catch (err) {
      reasons.push(`no valid policy is loaded: ${(err as Error).message}`);
    }
    return { ok: reasons.length === 0, reasons };
  });
}

/** What the ops portal reads and acts through (docs/portal.md). */
export type PortalPorts = Pick<
  App,
  | 'config'
  | 'clock'
  | 'logger'
  | 'portal'
  | 'portalReads'
  | 'portalOpsReads'
  | 'portalAudit'
  | 'visibility'
  | 'access'
  | 'runs'
  | 'catalog'
  | 'transcript'
  | 'groupsOf'
>;

/** Everything the ops portal takes from the App, in this one place (docs/portal.md). */
export function portalDeps(app: PortalPorts, auditKey: string, extra: Partial<Pick<PortalDeps, 'livePollMs'>> = {}): PortalDeps {
  const { config } = app;
  return {
    publicUrl: config.publicUrl,
    csrfKey: createHmac('sha256', auditKey).update('edgeops portal forms').digest('hex'),
    clock: app.clock,
    logger: app.logger,
    signIn: app.portal,
    read: app.portalReads,
    visibility: app.visibility,
    access: app.access,
    runs: app.runs,
    policy: () => app.catalog().policy,
    transcript: (id) => app.transcript(id),
    groupsOf: (userId) => app.groupsOf(userId),
    ops: portalOpsDeps(app),
    audit: app.portalAudit,
    ...(config.slackSignIn
      ? { oidc: { ...config.slackSignIn, authorizeUrl: new URL('../openid/connect/authorize', config.slackSignIn.apiUrl).toString() } }
      : {}),
    ...extra,
  };
}

export function mountPlatform(
  app: PlatformPorts & PortalPorts,
  options: { auditKey: string; pagerduty?: MountPagerdutyOptions; portal?: Partial<Pick<PortalDeps, 'livePollMs'>> },
): Platform {
  const metrics = createMetrics(app.metricsSource);
  const bodyBudget = createBodyBudget();
  const pagerduty = mountPagerduty(app, app.config, app.logger, {
    ...options.pagerduty,
    bodyBudget,
    onWebhook: (outcome) => metrics.webhookDeliveries.inc({ outcome }),
  });
  const portal = mountPortal(portalDeps(app, options.auditKey, options.portal));
  return {
    metrics,
    bodyBudget,
    routes: {
      ...portal.routes,
      'GET /healthz': appHealthRoute(app),
      'GET /metrics': async (_req, res) => {
        const { contentType, body } = await metrics.render();
        res.writeHead(200, { 'content-type': contentType }).end(body);
      },
      [`GET ${RUN_OUTPUT_PATH}`]: runOutputRoute(app, linkKey(options.auditKey)),
      ...pagerduty.routes,
    },
    start: () => {
      pagerduty.start();
      portal.start();
    },
    processed: () => pagerduty.processed(),
    stop: () => {
      portal.stop();
      return pagerduty.stop();
    },
  };
}
