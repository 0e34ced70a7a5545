// Rich text as Slack mrkdwn: a user is a mention, anything else named is escaped text, so nothing fires by accident.
import { renderSegments, type ChatText, type SegmentRenderer } from '../../core/rich-text.js';
import { isUserId, USER_ID_PATTERN } from '../../core/user-id.js';

/** `<@U123>` or `<@U123|label>`: the only angle-bracket syntax that survives escaping. */
const USER_MENTION = new RegExp(`<@(${USER_ID_PATTERN})(?:\\|[^<>]*)?>`, 'g');
/** `<@…>` around something that is not a Slack user (`pagerduty:Checkout`, `system`): shown as a plain name. */
const NON_USER_MENTION = /<@([^<>|]*)(?:\|[^<>]*)?>/g;

const escapeChar = (c: string): string => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;');

/**
 * Escapes text for Slack so that it shows exactly as written: `&`, `<` and `>` become entities, which
 * stops every `<!channel>`, `<!here>`, `<!everyone>`, `<!subteam^…>`, `<#C…>` and `<http…|…>` from firing.
 */
export function escapeText(text: string): string {
  return text.replace(/[&<>]/g, escapeChar);
}

/**
 * Escapes mrkdwn like `escapeText`, except user mentions `<@U…>` (normalised, labels dropped), which keep
 * notifying the person named. Special mentions and links never survive, wherever they appear.
 */
export function escapeMrkdwn(text: string): string {
  let out = '';
  let last = 0;
  for (const m of text.matchAll(USER_MENTION)) {
    out += escapeText(text.slice(last, m.index));
    out += `<@${m[1]!}>`;
    last = m.index + m[0].length;
  }
  return out + escapeText(text.slice(last));
}

/** Actors that are not Slack users (`<@pagerduty:Checkout>`) read better, and safer, as plain names. */
export function plainActors(text: string): string {
  return text.replace(NON_USER_MENTION, (whole, inner: string) => (isUserId(inner) ? whole : inner));
}

/**
 * A name shown as words (`pagerduty:Checkout API`, a run ID): escaped, and with a zero-width space after
 * each of mrkdwn's formatting marks, so `*`, `_`, `~` and `` ` `` in it cannot bold, strike or quote anything.
 */
const inertName = (name: string): string => escapeText(name).replace(/[*_~`]/g, (c) => `${c}\u200b`);

/**
 * Typed text keeps a mention its author typed (`<@U…>` arrives from Slack as such), and strings queued
 * before rich text carry theirs the same way; a reference is a mention only when it names a Slack user.
 */
const MRKDWN: SegmentRenderer = {
  text: (text) => escapeMrkdwn(plainActors(text)),
  user: (id) => (isUserId(id) ? `<@${id}>` : inertName(id)),
  run: inertName,
  incident: inertName,
};

/**
 * Slack's own markup, words unescaped: what a command reply sends and what a run result is read back
 * from. A reference is written `<@…>` with `&`, `<` and `>` in it escaped, so a name cannot close it early.
 */
const SOURCE: SegmentRenderer = {
  text: (text) => text,
  user: (id) => `<@${escapeText(id)}>`,
  run: (id) => id,
  incident: (id) => id,
};

/** Rich text as escaped mrkdwn for blocks and fields. */
export const slackMrkdwn = (content: ChatText): string => renderSegments(content, MRKDWN);

/** Rich text as Slack source text, before any escaping (command replies; run results parsed into blocks). */
export const slackSource = (content: ChatText): string => renderSegments(content, SOURCE);
