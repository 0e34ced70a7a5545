// What every portal response carries (CSP, framing, referrer, sniffing) and the checks every POST passes (CSRF token, same origin).
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Only the app's own files; no inline script or style, no framing, forms post only here. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'cache-control': 'no-store',
};

export const SESSION_COOKIE = 'edgeops_portal';
/** The short-lived cookie that carries OIDC `state` and `nonce` from the redirect to the callback. */
export const OIDC_COOKIE = 'edgeops_portal_oidc';

export function cookieValue(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** HttpOnly and SameSite=Lax always; Secure when the portal is reached over https (EDGEOPS_PUBLIC_URL). */
export function setCookie(name: string, value: string, options: { secure: boolean; maxAgeSeconds?: number; path?: string }): string {
  const parts = [`${name}=${value}`, `Path=${options.path ?? '/portal'}`, 'HttpOnly', 'SameSite=Lax'];
  if (options.maxAgeSeconds !== undefined) parts.push(`Max-Age=${options.maxAgeSeconds}`);
  if (options.secure) parts.push('Secure');
  return parts.join('; ');
}

/** The CSRF token of a session: derived from its id with a key of the server's, so nothing more is stored. */
export const csrfToken = (key: string, sessionId: string): string => createHmac('sha256', key).update(`csrf\n${sessionId}`).digest('base64url');

export function csrfValid(key: string, sessionId: string, given: string | undefined): boolean {
  if (!given) return false;
  const expected = Buffer.from(csrfToken(key, sessionId));
  const actual = Buffer.from(given);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * A POST must come from the portal's own pages: an `Origin` (or, without one, a `Referer`) of
 * another site is refused, whatever else the request carries.
 */
export function sameOrigin(req: IncomingMessage, publicOrigin: string): boolean {
  const host = req.headers.host;
  const own = new Set([publicOrigin, ...(host ? [`http://${host}`, `https://${host}`] : [])]);
  const origin = req.headers.origin;
  if (origin !== undefined) return own.has(origin);
  const referer = req.headers.referer;
  if (referer === undefined) return true;
  try {
    return own.has(new URL(referer).origin);
  } catch {
    return false;
  }
}

export function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
  headers: Record<string, string | string[]> = {},
): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': contentType, ...headers }).end(body);
}
