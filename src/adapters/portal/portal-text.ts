// Rich text on a portal page: every word escaped, a user as `<@U…>` text, runs and incidents by their ids.
import { renderSegments, type ChatText, type SegmentRenderer } from '../../core/rich-text.js';
import { escapeHtml, Html } from './html.js';

const PORTAL_TEXT: SegmentRenderer = {
  text: escapeHtml,
  user: (id) => escapeHtml(`<@${id}>`),
  run: escapeHtml,
  incident: escapeHtml,
};

/** Markup for a page: safe because every segment is escaped on its way in. */
export const portalHtml = (content: ChatText): Html => new Html(renderSegments(content, PORTAL_TEXT));
