// The access-control port the command layer asks before acting; the policy engine implements it.
import type { Actor, Authorization, Source } from './ports.js';

export interface AccessRequest {
  action: string;
  procedure?: string;
  environment?: string;
  channel?: string | null;
  incidentId?: string | null;
}

export interface AccessControl {
  /**
   * Throws NotAllowedError when refused, after recording the refusal on the audit log. When
   * allowed, returns the decision for the caller to record with the action itself.
   */
  require(actor: Actor, source: Source, request: AccessRequest): Promise<Authorization | undefined>;
  /** Asks without recording (for `help` and listings). */
  may(actor: Actor, request: AccessRequest): boolean;
  /** Whether a plain allow applies, without recording: looking cannot wait for an approval. */
  allows(actor: Actor, request: AccessRequest): boolean;
}
