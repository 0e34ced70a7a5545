// What a request line's target names, or null when it is not a target this server can route (answered 400).
import type { IncomingMessage } from 'node:http';

// RFC 3986 `pchar`: what a path segment may hold; `[`, `]`, spaces, quotes, braces and the like may not.
const PCHAR = "(?:[A-Za-z0-9\\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})";
/** origin-form (`/path?query`), the form every client of ours sends. */
const ORIGIN_FORM = new RegExp(`^(?:/${PCHAR}*)+(?:\\?(?:${PCHAR}|[/?])*)?$`);
/** absolute-form (`http://host/path`), which proxies send and a server must accept. */
const ABSOLUTE_FORM = /^https?:\/\//i;
const BASE = 'http://localhost';

/**
 * The URL a request asks for, checked strictly: origin-form made only of the characters a URL may
 * hold, or an http(s) absolute-form URL whose path and query are such. Null for anything else (a
 * malformed host, a stray `[`, `*`, authority-form…), so no route ever sees a target that could
 * make `new URL` throw.
 */
export function parseRequestTarget(target: string | undefined): URL | null {
  if (target === undefined || target === '') return null;
  if (ORIGIN_FORM.test(target)) {
    // Appended to a fixed base rather than resolved against it, so `//x` stays a path, not a host.
    return URL.canParse(BASE + target) ? new URL(BASE + target) : null;
  }
  if (!ABSOLUTE_FORM.test(target) || !URL.canParse(target)) return null;
  const url = new URL(target);
  return ORIGIN_FORM.test(url.pathname + url.search) ? url : null;
}

/** The URL of a request that reached a route (the server answered 400 already for any other). */
export function requestUrl(req: Pick<IncomingMessage, 'url'>): URL {
  return parseRequestTarget(req.url) ?? new URL(BASE);
}
