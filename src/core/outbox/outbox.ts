// The outbox port: messages stored with the event that caused them, delivered per channel by priority, then in order.
import type { ChatText } from '../rich-text.js';

/** A chat message as the core describes it; adapters render it (Block Kit, console text). */
export interface ChatMessage {
  /** The words, with the people and things they name as data; each surface renders them (docs/architecture.md). */
  text: ChatText;
  /** Optional structured fields (title → value) the Slack adapter lays out. */
  fields?: Array<[string, ChatText]>;
  /** Pin the message once posted (incident summary). */
  pin?: boolean;
  /** The message kind, for renderers that lay out certain kinds specially. */
  kind?: string;
  /** Extra data renderers may use (run id for approval buttons, …). */
  data?: Record<string, unknown>;
}

export type OutboxTarget = 'slack' | 'pagerduty';

export interface OutboxItem {
  id: number;
  causeSeq: number;
  target: OutboxTarget;
  /** Ordering key: `incident:INC-7` or a Slack channel ID. */
  channel: string;
  body: ChatMessage | Record<string, unknown>;
  attempts: number;
  nextAttemptAt: number;
  createdAt: number;
  /** Delivery class (see delivery-order.ts): a channel's lower classes go first, each in queue order. */
  priority?: number;
}

/** What the receiver called a delivered message (a Slack channel and ts), and when it was sent. */
export interface OutboxReceipt {
  receipt: string;
  sentAt: number;
}

export interface Outbox {
  enqueue(item: { causeSeq: number; target: OutboxTarget; channel: string; body: ChatMessage | Record<string, unknown> }): Promise<number>;
  /**
   * The next pending item of each channel (its most urgent class, oldest first), if its turn has come;
   * one per channel keeps each class in order. `holder`: where several processes share the outbox
   * (channel-leases.ts), leaves out the channels another holder's lease covers at `now`.
   */
  due(target: OutboxTarget, now: number, limit: number, holder?: string): Promise<OutboxItem[]>;
  /** The earliest future turn among channel heads (a retry deadline), so a sender can sleep until then. */
  nextAttemptAfter(target: OutboxTarget, now: number): Promise<number | null>;
  /** `receipt`: what the receiver called the message, for a later message that updates it in place. */
  markSent(id: number, now: number, receipt?: string): Promise<void>;
  /** The receipt of the sent message with this key (see delivery-order.ts `messageKeyOf`), if any. */
  receipt(target: OutboxTarget, key: string): Promise<OutboxReceipt | undefined>;
  markRetry(id: number, nextAttemptAt: number, error: string): Promise<void>;
  markFailed(id: number, error: string): Promise<void>;
  depth(target?: OutboxTarget): Promise<number>;
  /**
   * Resolves once every row committed so far is on stable storage. A sender waits for it before it
   * sends what it read, so nothing goes out that a power cut could still take back; without it,
   * rows are durable as soon as they are committed.
   */
  durable?(): Promise<void>;
}
