// The closed set of domain errors; adapters map `code` to HTTP statuses, chat replies and exit codes.

export const ErrorCode = {
  Input: 'INPUT',
  NotAllowed: 'NOT_ALLOWED',
  NotFound: 'NOT_FOUND',
  Conflict: 'CONFLICT',
  Config: 'CONFIG',
  Integrity: 'INTEGRITY',
  Unavailable: 'UNAVAILABLE',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export abstract class EdgeopsError extends Error {
  abstract readonly code: ErrorCode;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The request is malformed or a value is out of range; the message says what to fix. */
export class InputError extends EdgeopsError {
  readonly code = ErrorCode.Input;
}

/** Policy refused the action. */
export class NotAllowedError extends EdgeopsError {
  readonly code = ErrorCode.NotAllowed;
}

export class NotFoundError extends EdgeopsError {
  readonly code = ErrorCode.NotFound;
}

/** The action clashes with current state (already resolved, lease held, approval voided…). */
export class ConflictError extends EdgeopsError {
  readonly code = ErrorCode.Conflict;
}

/** The configuration cannot be served; `problems` lists every one found. */
export class ConfigError extends EdgeopsError {
  readonly code = ErrorCode.Config;

  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Stored data does not match its recorded hashes (tampering or corruption). */
export class IntegrityError extends EdgeopsError {
  readonly code = ErrorCode.Integrity;
}

/** A dependency (Slack, PagerDuty, the database) cannot be reached right now. */
export class UnavailableError extends EdgeopsError {
  readonly code = ErrorCode.Unavailable;
}

export function isEdgeopsError(err: unknown): err is EdgeopsError {
  return err instanceof EdgeopsError;
}
