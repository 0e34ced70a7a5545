// Rich text on the terminal: words as they are, a user as `<@U…>` (what a Slack user would type to name them).
import { renderSegments, type ChatText, type SegmentRenderer } from '../../core/rich-text.js';

const CONSOLE: SegmentRenderer = {
  text: (text) => text,
  user: (id) => `<@${id}>`,
  run: (id) => id,
  incident: (id) => id,
};

export const consoleText = (content: ChatText): string => renderSegments(content, CONSOLE);
