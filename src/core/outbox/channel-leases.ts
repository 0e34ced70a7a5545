// The channel-lease port: which of several processes sharing one outbox delivers a channel, one at a time.
import type { OutboxTarget } from './outbox.js';

/**
 * Leases on outbox channels, held by one holder (a replica) each. A channel's messages keep their
 * order and pacing only while one process at a time delivers them: a dispatcher takes the lease of
 * a channel before it sends the channel's head, and renews it while it delivers. Times are the
 * callers' clock readings (milliseconds): replicas' clocks must agree to well within a lease.
 */
export interface ChannelLeases {
  /** Who holds the leases taken through this object: one value per replica. */
  readonly holder: string;
  /**
   * Of `channels`, those this holder holds from now until `until`: each one free, run out at `now`,
   * or its own already. Taking is atomic: two holders taking one channel at once cannot both get it.
   */
  take(target: OutboxTarget, channels: readonly string[], now: number, until: number): Promise<string[]>;
  /** Extends this holder's leases on `channels` to `until`; returns those it still held (one another holder took after it ran out is not taken back). */
  renew(target: OutboxTarget, channels: readonly string[], until: number): Promise<string[]>;
  /** Gives these leases up: another holder may take each one from `after` on, so the channel's pacing carries over. */
  release(target: OutboxTarget, channels: readonly string[], after: number): Promise<void>;
}
