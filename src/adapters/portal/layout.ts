// The page around every portal page: skip link, header with navigation and sign-out, main landmark.
import { html, type Html } from './html.js';
import { PATHS } from './portal-paths.js';
import { OPS_PATHS } from './portal-ops-paths.js';

export interface LayoutUser {
  userId: string;
  csrf: string;
}

export function layout(title: string, body: Html, user?: LayoutUser, options: { live?: boolean } = {}): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · edgeops</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${PATHS.css}">
${options.live ? html`<script src="${PATHS.js}" defer></script>` : null}
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="${PATHS.incidents}">edgeops</a>
  ${
    user
      ? html`<nav aria-label="Portal"><ul><li><a href="${PATHS.incidents}">Incidents</a></li><li><a href="${OPS_PATHS.procedures}">Procedures</a></li><li><a href="${OPS_PATHS.reports}">Reports</a></li><li><a href="${OPS_PATHS.audit}">Audit</a></li></ul></nav>
  <form class="signout" method="post" action="${PATHS.signOut}"><input type="hidden" name="csrf" value="${user.csrf}"><span class="who">${user.userId}</span> <button type="submit">Sign out</button></form>`
      : null
  }
</header>
<main id="main" tabindex="-1">
${body}
</main>
</body>
</html>
`.text;
}
