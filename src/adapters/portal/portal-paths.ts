// Where the portal's pages live, and the links other adapters (chat, the console) point at them.

export const PORTAL = '/portal';
export const PATHS = {
  home: PORTAL,
  signIn: `${PORTAL}/sign-in`,
  signOut: `${PORTAL}/sign-out`,
  slackSignIn: `${PORTAL}/sign-in/slack`,
  slackCallback: `${PORTAL}/sign-in/slack/callback`,
  incidents: `${PORTAL}/incidents`,
  incident: `${PORTAL}/incident`,
  timeline: `${PORTAL}/incident/timeline`,
  events: `${PORTAL}/incident/events`,
  exportFile: `${PORTAL}/incident/export`,
  run: `${PORTAL}/run`,
  approve: `${PORTAL}/run/approve`,
  deny: `${PORTAL}/run/deny`,
  css: `${PORTAL}/assets/portal.css`,
  js: `${PORTAL}/assets/portal.js`,
} as const;

const base = (publicUrl: string): string => (publicUrl.endsWith('/') ? publicUrl : `${publicUrl}/`);

/** The one-time link that starts a session (`/incident portal`). */
export function signInLink(publicUrl: string, token: string): string {
  const url = new URL(PATHS.signIn.slice(1), base(publicUrl));
  url.searchParams.set('token', token);
  return url.toString();
}

/** A portal page as a path with its query (`/portal/incident?id=INC-7`). */
export function pagePath(path: string, query: Record<string, string | number | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
  const q = params.toString();
  return q ? `${path}?${q}` : path;
}
