// `SEQ:HASH` references to a chain head: how an anchor is written down, and how a log is checked against one.
import { InputError } from '../../errors.js';
import { hashesEqual } from './audit-chain.js';

export interface HeadRef {
  seq: number;
  hash: string;
}

export const formatHeadRef = (head: HeadRef): string => `${head.seq}:${head.hash}`;

const HEAD_REF = /^(\d{1,15}):([0-9a-f]{64})$/;

/** Parses `SEQ:HASH` as `edgeops audit anchor` prints it and the daily anchor post shows it. */
export function parseHeadRef(text: string): HeadRef {
  const m = HEAD_REF.exec(text.trim().toLowerCase());
  const seq = m ? Number(m[1]) : 0;
  if (!m || seq < 1) {
    throw new InputError(`"${text}" is not an audit anchor; give SEQ:HASH as \`edgeops audit anchor\` prints it (a seq from 1, a colon, 64 hex digits)`);
  }
  return { seq, hash: m[2]! };
}

export type HeadRefVerdict = { ok: true } | { ok: false; seq: number; reason: string };

/**
 * Follows a verified pass over the log: the log must hold row `seq` with exactly `hash`. A longer
 * log that contains it passes (it grew since); a log that ends before it, or has another row there,
 * is an older copy or a rewrite.
 */
export function headRefCheck(expected: HeadRef): { see(seq: number, hash: string): void; verdict(lastSeq: number): HeadRefVerdict } {
  let found: string | undefined;
  return {
    see(seq, hash) {
      if (seq === expected.seq) found = hash;
    },
    verdict(lastSeq) {
      if (found === undefined) {
        return {
          ok: false,
          seq: expected.seq,
          reason: `the log ends at seq ${lastSeq}, before the anchored seq ${expected.seq}: it was rolled back to an older copy or cut short`,
        };
      }
      if (!hashesEqual(found, expected.hash)) {
        return {
          ok: false,
          seq: expected.seq,
          reason: `row ${expected.seq} has hash ${found}, not the anchored ${expected.hash}: the log was replaced or rewritten up to that row`,
        };
      }
      return { ok: true };
    },
  };
}
