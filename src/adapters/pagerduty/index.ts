// Mounts PagerDuty on an app: the webhook route, the event worker, the REST client and the outbox delivery.
import type { App } from '../../app-ports.js';
import type { OncallCommandDeps } from '../../core/commands/oncall-commands.js';
import type { ProcessPass } from '../../core/pagerduty/pagerduty-processor.js';
import type { IncomingEvent, ReceiveResult } from '../../core/pagerduty/pagerduty-inbox.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../log.js';
import type { BodyBudget } from '../http/body-budget.js';
import type { RouteHandler } from '../http/http-server.js';
import type { OutboxDispatcher } from '../outbox/outbox-dispatcher.js';
import type { EventWorker } from './event-worker.js';
import { groupCommit } from './group-commit.js';
import { createPagerdutyClient, type PagerdutyClient } from './pagerduty-client.js';
import { startPagerdutyDelivery, type PagerdutyDeliveryOptions } from './pagerduty-delivery.js';
import { pagerdutyWebhookRoute, type WebhookOutcome } from './webhook-route.js';

export { pagerdutyWebhookRoute } from './webhook-route.js';
export { verifyPagerdutySignature } from './verify-signature.js';
export { createPagerdutyClient } from './pagerduty-client.js';

/** `/oncall` answers inside chat's 3 s, with room for the round trip; past this it says PagerDuty is slow. */
export const ONCALL_DEADLINE_MS = 2_500;

/** The client for a configuration, or null without PAGERDUTY_API_TOKEN (then nothing is written to PagerDuty). */
export function pagerdutyClientFor(config: Pick<Config, 'pagerduty'>, timeoutMs?: number): PagerdutyClient | null {
  const pd = config.pagerduty;
  if (!pd.apiToken) return null;
  return createPagerdutyClient({ apiUrl: pd.apiUrl, token: pd.apiToken, from: pd.from, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
}

/** What `/oncall` needs: the pager (null without a token) and a deadline per command. */
export function oncallCommandDeps(config: Pick<Config, 'pagerduty'>): OncallCommandDeps {
  return { pager: pagerdutyClientFor(config, ONCALL_DEADLINE_MS), deadline: () => AbortSignal.timeout(ONCALL_DEADLINE_MS) };
}

export interface MountPagerdutyOptions {
  /** The REST client; by default one from the configuration (none without a token). */
  client?: PagerdutyClient | null;
  /** Passed to the outbox delivery (tests shorten its pacing and polling). */
  delivery?: Pick<PagerdutyDeliveryOptions, 'sleep' | 'random' | 'perChannelIntervalMs' | 'concurrency' | 'idlePollMs'>;
  /** Longest wait before the worker looks for events stored by another process. */
  workerIdlePollMs?: number;
  /** Told how each webhook delivery ended (the deliveries metric). */
  onWebhook?: (outcome: WebhookOutcome) => void;
  /** Shared with the other routes that hold unverified bodies (see platform-routes). */
  bodyBudget?: BodyBudget;
}

export interface MountedPagerduty {
  /** `POST /webhooks/pagerduty`, to add to the HTTP server's route table. */
  routes: Record<string, RouteHandler>;
  /** Starts processing stored events and delivering PagerDuty writes (events stored before are picked up). */
  start(): void;
  /** Refuses new webhooks (503, PagerDuty retries), finishes the pass in progress, stops delivery. */
  stop(): Promise<void>;
  /** Processes every event due now; resolves when nothing is left (tests, the demo). */
  processed(): Promise<void>;
  /** Delivers every PagerDuty write due now (tests, the demo); resolves at once without a client. */
  drain(): Promise<void>;
  /** One synchronous processing pass, for callers that drive processing themselves (no worker). */
  processDue(limit?: number): Promise<ProcessPass>;
}

/** What PagerDuty's routes and workers are given: the inbox and processing (built by the composition root), the outbox, the clock. */
export type PagerdutyMountPorts = Pick<App, 'pagerduty' | 'outboxes' | 'clock' | 'onMessages'>;

export function mountPagerduty(app: PagerdutyMountPorts, config: Config, logger: Logger, options: MountPagerdutyOptions = {}): MountedPagerduty {
  const log = logger.child({ component: 'pagerduty' });
  const save = groupCommit<IncomingEvent, ReceiveResult>((batch) => app.pagerduty.inbox.receive(batch));
  const processor = app.pagerduty;
  const client = options.client === undefined ? pagerdutyClientFor(config) : options.client;
  if (client && !config.pagerduty.from) {
    log.warn('PAGERDUTY_API_TOKEN is set but PAGERDUTY_FROM is not: notes, acks and resolves to PagerDuty will be refused');
  }

  let accepting = true;
  let worker: EventWorker | undefined;
  let delivery: OutboxDispatcher | undefined;
  let unsubscribe: (() => void) | undefined;

  const route = pagerdutyWebhookRoute({
    secrets: config.pagerduty.webhookSecrets,
    store: save,
    logger: log,
    accepting: () => accepting,
    onStored: () => worker?.wake(),
    ...(options.onWebhook ? { onOutcome: options.onWebhook } : {}),
    ...(options.bodyBudget ? { bodyBudget: options.bodyBudget } : {}),
  });

  return {
    routes: { 'POST /webhooks/pagerduty': route },

    start() {
      if (worker) return;
      worker = processor.startProcessing({
        logger: log,
        ...(options.workerIdlePollMs === undefined ? {} : { idlePollMs: options.workerIdlePollMs }),
      });
      if (client) {
        delivery = startPagerdutyDelivery({ client, outboxes: app.outboxes, clock: app.clock, logger: log, ...options.delivery });
        const d = delivery;
        unsubscribe = app.onMessages(() => d.kick());
        // Writes left by a previous run go out now.
        d.kick();
      }
    },

    async stop() {
      accepting = false;
      unsubscribe?.();
      await worker?.stop();
      await delivery?.stop();
      worker = undefined;
      delivery = undefined;
    },

    async processed() {
      if (worker) {
        await worker.idle();
        return;
      }
      while ((await processor.processDue(100)).processed > 0) {
        // Keep going until a pass finds nothing due.
      }
    },

    async drain() {
      await delivery?.drain();
    },

    processDue: (limit?: number) => processor.processDue(limit),
  };
}
