// The access-control port the command layer asks before acting; the policy engine implements it.
import type { Actor, Source } from './ports.js';

export interface AccessRequest {
  action: string;
  procedure?: string;
  environment?: string;
  channel?: string | null;
  incidentId?: string | null;
}

export interface AccessControl {
  /** Throws NotAllowedError when refused; the decision is recorded on the audit log either way. */
  require(actor: Actor, source: Source, request: AccessRequest): void;
  /** Asks without recording (for `help` and listings). */
  may(actor: Actor, request: AccessRequest): boolean;
}
