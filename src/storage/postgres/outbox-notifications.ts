// Wakes this replica's outbox dispatchers when any replica queues a message (LISTEN on one connection of the pool).
import type { Logger } from '../../log.js';
import type { Pool, PoolClient } from './pool.js';
import { OUTBOX_CHANNEL } from './postgres-outbox.js';

export interface OutboxNotifications {
  /** Stops listening and hands the connection back to the pool. */
  stop(): Promise<void>;
}

export interface ListenOptions {
  logger: Logger;
  /** Wait before listening again after the connection was lost (default 1 s). */
  retryMs?: number;
}

/**
 * Calls `onQueued` each time a message is committed to the outbox, on this replica or another: the
 * replica holding the message's channel then sends it at once instead of at its next poll. Holds one
 * connection of the pool for as long as it listens. When that connection is lost it listens again
 * after `retryMs`, and calls `onQueued` once then, for whatever was queued while it was deaf (the
 * dispatchers' own idle polls also find such messages).
 */
export function listenForOutbox(pool: Pool, onQueued: () => void, options: ListenOptions): OutboxNotifications {
  const logger = options.logger.child({ component: 'outbox-notifications' });
  const retryMs = Math.max(1, options.retryMs ?? 1_000);
  let stopped = false;
  let client: PoolClient | undefined;
  let retry: NodeJS.Timeout | undefined;

  const onNotification = (): void => {
    onQueued();
  };

  function again(): void {
    retry = setTimeout(() => {
      retry = undefined;
      listening = listen(true);
    }, retryMs);
  }

  function lost(from: PoolClient, err: unknown): void {
    if (client !== from) return;
    client = undefined;
    from.off('notification', onNotification);
    from.release(err instanceof Error ? err : true);
    if (stopped) return;
    logger.warn({ err }, 'lost the connection that listens for queued outbox messages; listening again shortly');
    again();
  }

  async function listen(reconnected: boolean): Promise<void> {
    let next: PoolClient;
    try {
      next = await pool.connect();
    } catch (err) {
      if (stopped) return;
      logger.warn({ err }, 'cannot listen for queued outbox messages; trying again shortly');
      again();
      return;
    }
    if (stopped) {
      next.release();
      return;
    }
    const from = next;
    client = next;
    next.on('notification', onNotification);
    next.on('error', (err) => lost(from, err));
    try {
      await next.query(`LISTEN ${OUTBOX_CHANNEL}`);
      if (reconnected) onQueued();
    } catch (err) {
      lost(from, err);
    }
  }

  let listening = listen(false);

  return {
    async stop() {
      stopped = true;
      if (retry) clearTimeout(retry);
      await listening;
      const held = client;
      client = undefined;
      if (!held) return;
      held.off('notification', onNotification);
      await held.query(`UNLISTEN ${OUTBOX_CHANNEL}`).catch(() => undefined);
      held.release();
    },
  };
}
