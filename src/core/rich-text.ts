// Text the core hands to the edges: plain segments and references (a user, a run, an incident), rendered per surface.

/** Someone or something a message names; each surface decides how to show it (a Slack mention, a link, a name). */
export type Ref = { kind: 'user'; id: string } | { kind: 'run'; id: string } | { kind: 'incident'; id: string };

export type Segment = { kind: 'text'; text: string } | Ref;

/** A line of words with references in it, kept as data until a surface renders it. */
export type RichText = Segment[];

/**
 * What a message or reply carries: rich text, or a plain string. Plain strings are also what rows
 * queued before rich text hold, mentions written into them as `<@U…>`; every renderer shows those as before.
 */
export type ChatText = string | RichText;

export const userRef = (id: string): Ref => ({ kind: 'user', id });
export const runRef = (id: string): Ref => ({ kind: 'run', id });
export const incidentRef = (id: string): Ref => ({ kind: 'incident', id });

type Part = string | number | Ref | RichText;

const isRef = (v: unknown): v is Ref =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && ['user', 'run', 'incident'].includes((v as Ref).kind) && typeof (v as Ref).id === 'string';

function push(out: RichText, part: Part): void {
  if (Array.isArray(part)) {
    for (const s of part) push(out, s.kind === 'text' ? s.text : s);
    return;
  }
  if (isRef(part)) {
    out.push(part);
    return;
  }
  const text = String(part);
  if (text === '') return;
  const last = out[out.length - 1];
  // Adjacent text is one segment, so a surface's escaping sees it whole.
  if (last?.kind === 'text') out[out.length - 1] = { kind: 'text', text: last.text + text };
  else out.push({ kind: 'text', text });
}

/** `rich\`${userRef(id)} approved ${run.id}\``: a template whose references stay data. */
export function rich(strings: TemplateStringsArray, ...values: Part[]): RichText {
  const out: RichText = [];
  strings.forEach((s, i) => {
    push(out, s);
    if (i < values.length) push(out, values[i]!);
  });
  return out;
}

/** Joins rich texts (and strings) into one. */
export function joinRich(parts: readonly Part[], separator = ''): RichText {
  const out: RichText = [];
  parts.forEach((p, i) => {
    if (i > 0) push(out, separator);
    push(out, p);
  });
  return out;
}

/** The segments of a chat text: a plain string is one text segment. */
export const segmentsOf = (text: ChatText): RichText => (typeof text === 'string' ? (text === '' ? [] : [{ kind: 'text', text }]) : text);

/** A chat text as stored in a queued row is either a string or a list of well-formed segments. */
export function isChatText(value: unknown): value is ChatText {
  return (
    typeof value === 'string' ||
    (Array.isArray(value) &&
      value.every(
        (s) => isRef(s) || (typeof s === 'object' && s !== null && (s as Segment).kind === 'text' && typeof (s as { text: unknown }).text === 'string'),
      ))
  );
}

/** One surface's way of showing each kind of segment; text is escaped for the surface by `text`. */
export interface SegmentRenderer {
  text(text: string): string;
  user(id: string): string;
  run(id: string): string;
  incident(id: string): string;
}

/** Renders rich text segment by segment; a plain string goes through `text` whole, exactly as before rich text. */
export function renderSegments(content: ChatText, renderer: SegmentRenderer): string {
  let out = '';
  for (const s of segmentsOf(content)) out += s.kind === 'text' ? renderer.text(s.text) : renderer[s.kind](s.id);
  return out;
}
