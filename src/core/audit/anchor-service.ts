// The daily audit anchor: the chain head posted to a chat channel, so a rollback of the whole file shows.
import type { Outbox } from '../outbox/outbox.js';
import type { Clock, UnitOfWork } from '../ports.js';
import type { AuditLog } from './audit-log.js';
import { formatHeadRef, type HeadRef } from './head-ref.js';

/** The audit row that records an anchor posting; its payload names the head it anchored. */
export const ANCHOR_KIND = 'audit.anchored';

const DAY_MS = 86_400_000;
const utcDay = (ms: number): number => Math.floor(ms / DAY_MS);

export interface AnchorServiceDeps {
  uow: UnitOfWork;
  audit: AuditLog;
  outbox: Outbox;
  clock: Clock;
  /** The chat channel (a Slack channel ID) anchors are posted to. */
  channel: string;
}

export type AnchorService = ReturnType<typeof createAnchorService>;

/** The message: the `SEQ:HASH` to keep, and the command that checks a copy of the log against it. */
export function anchorText(head: HeadRef, at: number): string {
  const ref = formatHeadRef(head);
  return `🔒 edgeops audit anchor for ${new Date(at).toISOString().slice(0, 10)}: ${ref}\nCheck a copy of the log against it with: edgeops audit verify --expect-head ${ref}`;
}

export function createAnchorService(deps: AnchorServiceDeps) {
  return {
    /**
     * Posts the head once per UTC day, the first time it is called that day (a restart or a missed
     * tick posts at the next one). Returns the head anchored, or null when today's is already
     * queued or the log is still empty. The posting is recorded on the log in the same commit as
     * the message, so the outbox delivers it even across restarts.
     */
    tick(): Promise<HeadRef | null> {
      return deps.uow.transaction(async (): Promise<HeadRef | null> => {
        const now = deps.clock.now();
        const last = await deps.audit.lastWithoutIncident(ANCHOR_KIND);
        if (last && utcDay(last.time) >= utcDay(now)) return null;
        const head = await deps.audit.head();
        if (head.seq === 0) return null;
        const event = await deps.audit.append({
          actor: 'system',
          source: 'scheduler',
          kind: ANCHOR_KIND,
          payload: { seq: head.seq, hash: head.hash, channel: deps.channel },
        });
        await deps.outbox.enqueue({
          causeSeq: event.seq,
          target: 'slack',
          channel: deps.channel,
          body: { kind: ANCHOR_KIND, text: anchorText(head, now) },
        });
        return { seq: head.seq, hash: head.hash };
      });
    },
  };
}
