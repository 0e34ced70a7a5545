// A signed-in portal user over real HTTP on loopback: asks /incident portal as a signed Slack command, redeems the link, keeps the cookie.
import { request } from 'node:http';
import { expect } from 'vitest';
import { FORM, commandBody, post, signedHeaders } from '../fixtures/slack/slack-harness.js';
import type { Served } from '../reliability/slack-serve.js';

export interface PortalResponse {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

export function httpGet(url: string, headers: Record<string, string> = {}): Promise<PortalResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', agent: false, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sends a signed slash command and returns its ephemeral answer (from the ack or response_url). */
export async function ask(served: Served, user: string, channel: string, command: string, text: string): Promise<string> {
  const next = served.slack.responds.length + 1;
  const body = commandBody(user, channel, command, text);
  const res = await post(served.eventsUrl, body, { 'content-type': FORM, ...signedHeaders(body) });
  expect(res.status, `${command} ${text}`).toBe(200);
  if (res.body) return String((JSON.parse(res.body) as { text: unknown }).text);
  return String((await served.slack.waitForRespond(next)).body.text);
}

/** The sign-in link in a `/incident portal` answer, pointed at the served port instead of the public URL. */
export function linkIn(answer: string, baseUrl: string): string {
  const m = /(https?:\/\/\S+\/portal\/sign-in\?token=[A-Za-z0-9_-]+)/.exec(answer);
  if (!m) throw new Error(`no sign-in link in: ${answer}`);
  const url = new URL(m[1]!);
  return `${baseUrl}${url.pathname}${url.search}`;
}

export const tokenOf = (link: string): string => new URL(link).searchParams.get('token')!;

export function cookieFrom(res: PortalResponse, name = 'edgeops_portal'): string | undefined {
  const raw = res.headers['set-cookie'];
  const all = Array.isArray(raw) ? raw : raw ? [raw] : [];
  const found = all.find((c) => c.startsWith(`${name}=`));
  return found?.split(';')[0];
}

export class PortalUser {
  constructor(
    readonly served: Served,
    readonly cookie: string,
  ) {}

  get(path: string): Promise<PortalResponse> {
    return httpGet(`${this.served.baseUrl}${path}`, { cookie: this.cookie });
  }

  /** POSTs a form as the portal's pages do (same origin), or with the headers given. */
  postForm(path: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<PortalResponse> {
    const body = new URLSearchParams(fields).toString();
    return post(`${this.served.baseUrl}${path}`, body, { 'content-type': FORM, origin: this.served.baseUrl, cookie: this.cookie, ...headers });
  }

  /** The CSRF token the portal put in its own forms. */
  async csrf(): Promise<string> {
    const page = await this.get('/portal/incidents');
    const m = /name="csrf" value="([^"]+)"/.exec(page.body);
    if (!m) throw new Error('no CSRF token on the incidents page');
    return m[1]!;
  }
}

/** Signs `user` in through `/incident portal` and the one-time link. */
export async function signIn(served: Served, user: string, channel = 'C0GENERAL1'): Promise<PortalUser> {
  const link = linkIn(await ask(served, user, channel, '/incident', 'portal'), served.baseUrl);
  const res = await post(`${served.baseUrl}/portal/sign-in`, new URLSearchParams({ token: tokenOf(link) }).toString(), {
    'content-type': FORM,
    origin: served.baseUrl,
  });
  expect(res.status).toBe(303);
  const cookie = cookieFrom(res);
  if (!cookie) throw new Error('no session cookie after sign-in');
  return new PortalUser(served, cookie);
}
