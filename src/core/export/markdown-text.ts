// Rich text in a Markdown export: plain words that can never become markup, a user named as `<@U…>`.
import { renderSegments, type ChatText, type SegmentRenderer } from '../rich-text.js';

/** A CommonMark line ending: `\r\n`, `\n` or a lone `\r`. */
export const LINE_BREAK = /\r\n|\r|\n/g;

/**
 * Recorded text as one line of Markdown that renders as exactly that text (CommonMark and GitHub):
 * backslash before every character that could start markup here — `\`, `` ` ``, `*`, `_`, `[`,
 * `]`, `~` (strikethrough), `|` (table cells), `$` (GitHub math), `&` where it could begin an
 * entity, `<` where it could begin HTML or an autolink (a `<!--` would hide the rest of the
 * document) — and line breaks as `joiner`, so no text can end its cell, heading or list item and
 * start a section of its own. Text is only ever placed after a prefix (`| `, `# `, `- …: `), so
 * characters that matter only at the start of a line need nothing.
 */
export function mdText(text: string, joiner = '<br>'): string {
  return text.replace(/[\\`*_[\]~|$]|&(?=[#A-Za-z0-9])|<(?=[A-Za-z/!?])/g, (c) => `\\${c}`).replace(LINE_BREAK, joiner);
}

/**
 * Markdown escapes by context (`&` before a letter, `<` before a tag), so the words are put together
 * first and escaped whole: a reference next to text cannot open markup with it.
 */
const WORDS: SegmentRenderer = {
  text: (text) => text,
  user: (id) => `<@${id}>`,
  run: (id) => id,
  incident: (id) => id,
};

/** Rich text as one line of Markdown that shows exactly those words. */
export const markdownText = (content: ChatText, joiner?: string): string => mdText(renderSegments(content, WORDS), joiner);
