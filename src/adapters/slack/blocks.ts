// Block Kit for the messages the core queues: a layout per kind, Slack's size limits, and escaping so no mention or link fires by accident.
import type { ActionsBlock, Button, ContextBlock, KnownBlock, MrkdwnElement, SectionBlock } from '@slack/types';
import type { ChatMessage } from '../../core/outbox/outbox.js';

/** Slack's limits (https://docs.slack.dev/reference/block-kit/blocks). */
export const LIMITS = {
  sectionText: 3_000,
  fieldText: 2_000,
  fields: 10,
  blocks: 50,
  contextElements: 10,
  messageText: 40_000,
} as const;

/** The top-level `text` is what notifications and screen readers show; a short one serves them best. */
const FALLBACK_TEXT_MAX = 4_000;
/** Long prose (a 4,000-character note escapes to more than one section) is split, up to this many sections. */
const PROSE_SECTIONS_MAX = 8;
const TRIMMED_MARKER = '…(earlier output trimmed)\n';
const ELLIPSIS = '…';

const USER_ID = /^[UW][A-Z0-9]{2,}$/;
/** `<@U123>` or `<@U123|label>`: the only angle-bracket syntax that survives escaping. */
const USER_MENTION = /<@([UW][A-Z0-9]{2,})(?:\|[^<>]*)?>/g;
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
function plainActors(text: string): string {
  return text.replace(NON_USER_MENTION, (whole, inner: string) => (USER_ID.test(inner) ? whole : inner));
}

/**
 * The largest cut point ≤ `max` in escaped text that does not split an entity (`&amp;`), a mention
 * (`<@U…>`) or a surrogate pair.
 */
function safeCut(escaped: string, max: number): number {
  let cut = Math.max(0, Math.min(max, escaped.length));
  const amp = escaped.lastIndexOf('&', cut - 1);
  if (amp >= 0 && escaped.indexOf(';', amp) >= cut) cut = amp;
  const lt = escaped.lastIndexOf('<', cut - 1);
  if (lt >= 0 && escaped.indexOf('>', lt) >= cut) cut = lt;
  if (cut > 0 && /[\uD800-\uDBFF]/.test(escaped[cut - 1]!)) cut -= 1;
  return cut;
}

/** The first point ≥ `min` in fully escaped text that does not land inside an entity or a surrogate pair. */
function safeStart(escaped: string, min: number): number {
  let start = Math.max(0, Math.min(min, escaped.length));
  const amp = escaped.lastIndexOf('&', start - 1);
  if (amp >= 0) {
    const semi = escaped.indexOf(';', amp);
    if (semi >= start) start = semi + 1;
  }
  if (start < escaped.length && /[\uDC00-\uDFFF]/.test(escaped[start]!)) start += 1;
  return start;
}

/** Keeps the start of escaped text within `max` characters, marking the cut. */
export function headWithin(escaped: string, max: number): string {
  if (escaped.length <= max) return escaped;
  return `${escaped.slice(0, safeCut(escaped, max - ELLIPSIS.length))}${ELLIPSIS}`;
}

/** Keeps the end of escaped output within `max` characters (the end is what explains a failure), marking the cut. */
export function tailWithin(escaped: string, max: number): string {
  if (escaped.length <= max) return escaped;
  let start = safeStart(escaped, escaped.length - Math.max(0, max - TRIMMED_MARKER.length));
  // Start on a whole line when one begins soon enough.
  const nl = escaped.indexOf('\n', start);
  if (nl >= 0 && nl - start < 200 && nl + 1 < escaped.length) start = nl + 1;
  return `${TRIMMED_MARKER}${escaped.slice(start)}`;
}

/** Splits escaped prose into pieces of at most `max` characters, preferring line ends. */
function chunks(escaped: string, max: number, limit: number): string[] {
  const out: string[] = [];
  let rest = escaped;
  while (rest.length > 0) {
    if (out.length === limit - 1 && rest.length > max) {
      out.push(headWithin(rest, max));
      break;
    }
    if (rest.length <= max) {
      out.push(rest);
      break;
    }
    let cut = safeCut(rest, max);
    const nl = rest.lastIndexOf('\n', cut - 1);
    if (nl > max / 2) cut = nl + 1;
    if (cut === 0) cut = Math.min(max, rest.length);
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  return out.length > 0 ? out : [' '];
}

/** Output whose own ``` would close our code block early gets them broken up by zero-width spaces. */
const breakFences = (text: string): string => text.replace(/`{3,}/g, (ticks) => ticks.split('').join('\u200b'));

const codeBlock = (body: string): string => `\`\`\`\n${body}\n\`\`\``;

// Verbatim: Slack must not turn bare words into links or mentions; explicit `<@U…>` still works.
const mrkdwn = (text: string): MrkdwnElement => ({ type: 'mrkdwn', text: text || ' ', verbatim: true });

const section = (text: string): SectionBlock => ({ type: 'section', text: mrkdwn(headWithin(text, LIMITS.sectionText)) });

const context = (...texts: string[]): ContextBlock => ({
  type: 'context',
  elements: texts.slice(0, LIMITS.contextElements).map((t) => mrkdwn(headWithin(t, LIMITS.sectionText))),
});

/** Prose (already escaped) as one or more sections, each within Slack's section limit. */
function proseSections(escaped: string): SectionBlock[] {
  return chunks(escaped, LIMITS.sectionText, PROSE_SECTIONS_MAX).map((piece) => ({ type: 'section', text: mrkdwn(piece) }));
}

/** Fields as two-column sections of at most ten. */
function fieldSections(fields: Array<[string, string]> | undefined): SectionBlock[] {
  if (!fields || fields.length === 0) return [];
  const out: SectionBlock[] = [];
  for (let i = 0; i < fields.length; i += LIMITS.fields) {
    out.push({
      type: 'section',
      fields: fields.slice(i, i + LIMITS.fields).map(([title, value]) =>
        mrkdwn(headWithin(`*${escapeMrkdwn(plainActors(title))}*\n${escapeMrkdwn(plainActors(value))}`, LIMITS.fieldText)),
      ),
    });
  }
  return out;
}

const fallback = (escaped: string): string => headWithin(escaped, Math.min(FALLBACK_TEXT_MAX, LIMITS.messageText));

/** Never more than Slack's block count: the overflow is summarised in a last line. */
function withinBlockLimit(blocks: KnownBlock[]): KnownBlock[] {
  if (blocks.length <= LIMITS.blocks) return blocks;
  const kept = blocks.slice(0, LIMITS.blocks - 1);
  kept.push(context(`…and ${blocks.length - kept.length} more part(s) not shown here; the full record is on the incident timeline.`));
  return kept;
}

const KIND_ICONS: Record<string, string> = {
  'incident.updated': ':mega:',
  'incident.note': ':memo:',
  'incident.severity_changed': ':warning:',
  'incident.role_assigned': ':bust_in_silhouette:',
  'incident.acknowledged': ':eyes:',
  'incident.resolved': ':white_check_mark:',
  'incident.export_requested': ':page_facing_up:',
  'incident.export': ':page_facing_up:',
};

function plainMessage(message: ChatMessage): { text: string; blocks: KnownBlock[] } {
  const escaped = escapeMrkdwn(plainActors(message.text));
  const icon = message.kind ? KIND_ICONS[message.kind] : undefined;
  const body = icon ? `${icon} ${escaped}` : escaped;
  return { text: fallback(escaped), blocks: [...proseSections(body), ...fieldSections(message.fields)] };
}

function declaredMessage(message: ChatMessage): { text: string; blocks: KnownBlock[] } {
  const escaped = escapeMrkdwn(plainActors(message.text));
  return {
    text: fallback(escaped),
    blocks: [
      section(`:rotating_light: *${escaped}*`),
      ...fieldSections(message.fields),
      context(escapeText('Post updates with /incident update <text> [status=…] · notes with /incident note <text> · /incident help for more')),
    ],
  };
}

interface ResultStep {
  line: string;
  output: string | null;
}

/**
 * Reads a run result back into its header and steps: each step line may be followed by its output
 * between ``` lines. Output that itself holds a ``` line can only misplace where a code block ends;
 * every part is escaped in full either way, so nothing in it can mention or link.
 */
function parseResult(text: string): { header: string; steps: ResultStep[] } {
  const lines = text.split('\n');
  const header = lines[0] ?? '';
  const steps: ResultStep[] = [];
  let i = 1;
  while (i < lines.length) {
    const line = lines[i]!;
    i += 1;
    if (lines[i] !== '```') {
      steps.push({ line, output: null });
      continue;
    }
    let end = -1;
    for (let j = i + 1; j < lines.length; j += 1) {
      if (lines[j] === '```' && (j === lines.length - 1 || lines[j + 1]!.startsWith('• '))) {
        end = j;
        break;
      }
    }
    if (end < 0) end = lines.length;
    steps.push({ line, output: lines.slice(i + 1, end).join('\n') });
    i = end + 1;
  }
  return { header, steps };
}

function runFinishedMessage(message: ChatMessage): { text: string; blocks: KnownBlock[] } {
  const { header, steps } = parseResult(message.text);
  // Output and step lines come from the procedure's programs: escaped in full, user mentions included.
  const blocks: KnownBlock[] = [section(`*${escapeText(plainActors(header))}*`)];
  const room = LIMITS.blocks - 2;
  const shown = steps.length > room ? steps.slice(0, room - 1) : steps;
  for (const step of shown) {
    const line = headWithin(escapeText(step.line), 500);
    if (step.output === null || step.output.length === 0) {
      blocks.push(section(line));
      continue;
    }
    const budget = LIMITS.sectionText - line.length - '\n```\n\n```'.length;
    blocks.push(section(`${line}\n${codeBlock(tailWithin(breakFences(escapeText(step.output)), budget))}`));
  }
  if (shown.length < steps.length) {
    blocks.push(section(escapeText(`…and ${steps.length - shown.length} more steps; see the run's full record.`)));
  }
  const runId = typeof message.data?.runId === 'string' ? message.data.runId : null;
  const outputUrl = typeof message.data?.outputUrl === 'string' && /^https?:\/\//.test(message.data.outputUrl) ? message.data.outputUrl : null;
  if (runId && outputUrl) blocks.push(context(`${escapeText(runId)} · <${outputUrl.replace(/&/g, '&amp;').replace(/[<>|]/g, encodeURIComponent)}|full output> · steps: /runbook status ${escapeText(runId)}`));
  else if (runId) blocks.push(context(escapeText(`${runId} · full output and steps: /runbook status ${runId}`)));
  const summary = [header, ...steps.map((s) => s.line)].join('\n');
  return { text: fallback(escapeText(plainActors(summary))), blocks };
}

function approvalMessage(message: ChatMessage): { text: string; blocks: KnownBlock[] } {
  const base = plainMessage(message);
  const runId = typeof message.data?.runId === 'string' && message.data.runId.length > 0 ? message.data.runId : null;
  if (!runId) return base;
  const approve: Button = {
    type: 'button',
    action_id: 'run_approve',
    text: { type: 'plain_text', text: 'Approve', emoji: true },
    style: 'primary',
    value: runId,
  };
  const deny: Button = {
    type: 'button',
    action_id: 'run_deny',
    text: { type: 'plain_text', text: 'Deny', emoji: true },
    style: 'danger',
    value: runId,
    confirm: {
      title: { type: 'plain_text', text: headWithin(`Deny ${runId}?`, 100) },
      text: mrkdwn(headWithin(escapeText(`${runId} will not run. The requester can ask again.`), 300)),
      confirm: { type: 'plain_text', text: 'Deny' },
      deny: { type: 'plain_text', text: 'Keep waiting' },
      style: 'danger',
    },
  };
  const actions: ActionsBlock = { type: 'actions', block_id: headWithin(`run_approval:${runId}`, 255), elements: [approve, deny] };
  // The buttons are the point of this message: they always fit.
  return { text: base.text, blocks: [...base.blocks.slice(0, LIMITS.blocks - 1), actions] };
}

/** The Block Kit form of a queued chat message, with a plain-text fallback; always within Slack's limits. */
export function renderMessage(message: ChatMessage): { text: string; blocks: KnownBlock[] } {
  const normalised: ChatMessage = { ...message, text: message.text || message.kind || ' ' };
  let rendered: { text: string; blocks: KnownBlock[] };
  switch (normalised.kind) {
    case 'incident.declared':
      rendered = declaredMessage(normalised);
      break;
    case 'run.finished':
      rendered = runFinishedMessage(normalised);
      break;
    case 'run.approval_requested':
      rendered = approvalMessage(normalised);
      break;
    default:
      rendered = plainMessage(normalised);
  }
  return { text: rendered.text, blocks: withinBlockLimit(rendered.blocks) };
}
