// Rich text on a portal page: every word escaped, runs and incidents as links to their pages, a user as `<@U…>` text.
import { renderSegments, type ChatText, type SegmentRenderer } from '../../core/rich-text.js';
import { escapeHtml, Html } from './html.js';
import { PATHS, pagePath } from './portal-paths.js';

const link = (path: string, id: string): string => `<a href="${escapeHtml(pagePath(path, { id }))}">${escapeHtml(id)}</a>`;

const PORTAL_TEXT: SegmentRenderer = {
  text: escapeHtml,
  user: (id) => escapeHtml(`<@${id}>`),
  run: (id) => link(PATHS.run, id),
  incident: (id) => link(PATHS.incident, id),
};

/** Markup for a page: safe because every segment is escaped on its way in. */
export const portalHtml = (content: ChatText): Html => new Html(renderSegments(content, PORTAL_TEXT));
