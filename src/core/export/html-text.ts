// Rich text in an HTML export: every segment escaped, a user named as `<@U…>` in text, never as markup.
import { renderSegments, type ChatText, type SegmentRenderer } from '../rich-text.js';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** One pass over the text: exports escape every cell of every event. */
export const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ENTITIES[c]!);

const HTML: SegmentRenderer = {
  text: esc,
  user: (id) => esc(`<@${id}>`),
  run: esc,
  incident: esc,
};

export const htmlText = (content: ChatText): string => renderSegments(content, HTML);
