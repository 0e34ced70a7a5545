// Delivers the PagerDuty outbox (notes, acks, resolves) through the shared dispatcher: one channel per incident.
import type { OutboxItem } from '../../core/outbox/outbox.js';
import { PagerdutyWriteSchema } from '../../core/pagerduty/pagerduty-writes.js';
import type { Outboxes } from '../../app-ports.js';
import type { Clock } from '../../core/ports.js';
import { UnavailableError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { DeliveryResult, OutboxDispatcher } from '../outbox/outbox-dispatcher.js';
import { PagerdutyUnavailableError, type PagerdutyClient } from './pagerduty-client.js';

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** One delivery attempt of one PagerDuty write, as the dispatcher wants its result. */
export function createPagerdutyDeliverer(client: Pick<PagerdutyClient, 'addNote' | 'setStatus'>): (item: OutboxItem) => Promise<DeliveryResult> {
  return async function deliver(item: OutboxItem): Promise<DeliveryResult> {
    const write = PagerdutyWriteSchema.safeParse(item.body);
    if (!write.success) return { kind: 'permanent', error: `not a PagerDuty write: ${write.error.issues[0]?.message ?? 'unreadable'}` };
    try {
      const w = write.data;
      if (w.action === 'note') await client.addNote(w.incident, w.content);
      else if (w.action === 'acknowledge') await client.setStatus(w.incident, 'acknowledged');
      else await client.setStatus(w.incident, 'resolved', w.resolution ?? null);
      return { kind: 'sent' };
    } catch (err) {
      if (err instanceof PagerdutyUnavailableError && err.retryAfterMs !== null) return { kind: 'retry', afterMs: err.retryAfterMs, error: err.message };
      if (err instanceof UnavailableError) return { kind: 'transient', error: errorText(err) };
      // 4xx other than 429 (gone, refused, invalid): PagerDuty will never take this write.
      return { kind: 'permanent', error: errorText(err) };
    }
  };
}

export interface PagerdutyDeliveryOptions {
  client: Pick<PagerdutyClient, 'addNote' | 'setStatus'>;
  outboxes: Pick<Outboxes, 'dispatch'>;
  clock: Clock;
  logger: Logger;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** PagerDuty's REST limits are per account, not per incident; a short pace per incident is enough (default 200 ms). */
  perChannelIntervalMs?: number;
  concurrency?: number;
  idlePollMs?: number;
}

export function startPagerdutyDelivery(options: PagerdutyDeliveryOptions): OutboxDispatcher {
  return options.outboxes.dispatch({
    target: 'pagerduty',
    deliver: createPagerdutyDeliverer(options.client),
    logger: options.logger,
    clock: options.clock,
    perChannelIntervalMs: options.perChannelIntervalMs ?? 200,
    ...(options.sleep ? { sleep: options.sleep } : {}),
    ...(options.random ? { random: options.random } : {}),
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    ...(options.idlePollMs === undefined ? {} : { idlePollMs: options.idlePollMs }),
  });
}
