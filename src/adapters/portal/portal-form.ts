// Reading a portal form POST: small, urlencoded, from this origin, and (when signed in) carrying the session's CSRF token.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpFailure, readBody } from '../http/read-body.js';
import type { PortalDeps } from './portal-deps.js';
import { csrfValid, sameOrigin, send } from './security.js';

const FORM_LIMIT = 16 * 1024;

function refuse(res: ServerResponse, status: number, message: string): void {
  send(res, status, 'text/plain; charset=utf-8', `${message}\n`);
}

/**
 * The form fields, or undefined once the request was answered: 403 for another origin or a
 * missing/wrong CSRF token (when `sessionId` is given), 415 for another body type, 413 for too big.
 */
export async function readForm(deps: PortalDeps, req: IncomingMessage, res: ServerResponse, sessionId?: string): Promise<URLSearchParams | undefined> {
  if (!sameOrigin(req, new URL(deps.publicUrl).origin)) {
    refuse(res, 403, 'forbidden: this form was sent from another site');
    return undefined;
  }
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    refuse(res, 415, 'send the form as application/x-www-form-urlencoded');
    return undefined;
  }
  let body: Buffer;
  try {
    body = await readBody(req, FORM_LIMIT);
  } catch (err) {
    if (err instanceof HttpFailure) {
      refuse(res, err.status, err.message);
      return undefined;
    }
    throw err;
  }
  const form = new URLSearchParams(body.toString('utf8'));
  if (sessionId !== undefined && !csrfValid(deps.csrfKey, sessionId, form.get('csrf') ?? undefined)) {
    refuse(res, 403, 'forbidden: the form has no valid CSRF token; reload the page and try again');
    return undefined;
  }
  return form;
}
