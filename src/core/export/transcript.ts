// Postmortem transcripts (docs/export.md): pure renderers that yield text chunk by chunk, so exports stream.
import type { AuditEvent } from '../audit/audit-chain.js';
import { formatDuration } from '../duration.js';
import { isoTime, type Incident } from '../incidents/incident.js';
import { stepDuration, stepStatus } from '../runs/step-summary.js';
import { rich } from '../rich-text.js';
import { describeEvent, payloadText } from '../timeline/describe-event.js';
import { esc, htmlText } from './html-text.js';
import { LINE_BREAK, markdownText, mdText } from './markdown-text.js';

export interface TranscriptStep {
  name: string;
  outcome: string;
  /** Set for an HTTP step only, which has a status (`httpStatus`) and no exit code. */
  kind?: 'http';
  exitCode: number | null;
  httpStatus?: number | null;
  durationMs: number | null;
  outputExcerpt: string;
}

export interface TranscriptRun {
  id: string;
  procedure: string;
  environment: string;
  state: string;
  requestedBy: string;
  approvers: string[];
  /** Parameters with secret values already masked. */
  params: Record<string, unknown>;
  startedAt: number | null;
  finishedAt: number | null;
  steps: TranscriptStep[];
}

/** What a transcript shows of an audit row (the link to the previous row is not needed). */
export type TranscriptEvent = Pick<AuditEvent, 'seq' | 'time' | 'actor' | 'source' | 'kind' | 'payload' | 'hash'>;

export interface TranscriptSource {
  incident: Incident;
  /** Every event of the incident in seq order; read lazily, afresh on each call. */
  events: () => Iterable<TranscriptEvent> | AsyncIterable<TranscriptEvent>;
  runs: () => Iterable<TranscriptRun>;
  /** Refused requests (policy denials) about the incident, in seq order. */
  denied: () => Iterable<TranscriptEvent> | AsyncIterable<TranscriptEvent>;
}

interface Tail {
  firstSeq: number | null;
  lastSeq: number | null;
  lastHash: string | null;
}

const dash = '—';
const timeOrDash = (ms: number | null): string => (ms === null ? dash : isoTime(ms));
const between = (from: number, to: number | null): string => (to === null ? dash : formatDuration(to - from, 'elapsed'));

function headerRows(i: Incident): Array<[string, string]> {
  return [
    ['Severity', `SEV${i.severity}`],
    ['Status', i.status],
    ['Service', i.service ?? dash],
    ['Commander', i.roles.commander ?? dash],
    ['Comms', i.roles.comms ?? dash],
    ['Scribe', i.roles.scribe ?? dash],
    ['PagerDuty', i.pagerdutyUrl ?? i.pagerdutyId ?? dash],
    ['Channel', `#${i.channelName}`],
    ['Declared', `${isoTime(i.declaredAt)} by ${i.declaredBy}`],
    ['Acknowledged', timeOrDash(i.acknowledgedAt)],
    ['Resolved', timeOrDash(i.resolvedAt)],
    ['Time to acknowledge', between(i.declaredAt, i.acknowledgedAt)],
    ['Time to resolve', between(i.declaredAt, i.resolvedAt)],
  ];
}

// ---------------------------------------------------------------- Markdown

const mdCell = (s: string): string => mdText(s);
/** A heading is one line; a `#` run at its end would be taken as closing markup and dropped. */
const mdHeading = (s: string): string => mdText(s, ' ').replace(/#/g, '\\#');

/**
 * Free text (summaries, output) in a code fence longer than any backtick run inside it, so nothing
 * in it is markup. Line breaks are written as `\n`: a lone `\r` before the closing fence's `\n`
 * would otherwise merge with it into one.
 */
function fence(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const ticks = '`'.repeat(longest + 1);
  return `${ticks}\n${text.replace(LINE_BREAK, '\n')}\n${ticks}`;
}

export async function* renderMarkdown(src: TranscriptSource): AsyncGenerator<string> {
  const i = src.incident;
  yield `# ${mdHeading(`${i.id}: ${i.title}`)}\n\n| Field | Value |\n| --- | --- |\n`;
  for (const [k, v] of headerRows(i)) yield `| ${k} | ${mdCell(v)} |\n`;
  yield `\n## Summary\n\n${i.summary === null ? '_No summary given._' : fence(i.summary)}\n\n## Timeline\n\n`;
  yield '| Time (UTC) | Seq | Actor | Source | Event |\n| --- | --- | --- | --- | --- |\n';
  const tail: Tail = { firstSeq: null, lastSeq: null, lastHash: null };
  for await (const e of src.events()) {
    track(tail, e);
    yield `| ${isoTime(e.time)} | ${e.seq} | ${mdCell(e.actor)} | ${mdCell(e.source)} | ${markdownText(describeEvent(e))} |\n`;
  }
  yield '\n## Procedure runs\n\n';
  let runs = 0;
  for (const run of src.runs()) {
    runs += 1;
    yield `### ${mdHeading(`${run.id}: ${run.procedure} in ${run.environment} — ${run.state}`)}\n\n`;
    yield `- Requested by: ${mdText(run.requestedBy)}\n- Approved by: ${run.approvers.length > 0 ? mdText(run.approvers.join(', ')) : dash}\n`;
    yield `- Parameters: ${
      Object.keys(run.params).length > 0
        ? mdText(
            Object.entries(run.params)
              .map(([k, v]) => `${k}=${String(v)}`)
              .join(', '),
          )
        : dash
    }\n`;
    yield `- Started: ${timeOrDash(run.startedAt)}; finished: ${timeOrDash(run.finishedAt)}; duration: ${run.startedAt === null ? dash : between(run.startedAt, run.finishedAt)}\n\n`;
    for (const step of run.steps) {
      yield `#### ${mdHeading(`Step ${step.name}: ${step.outcome}, ${stepStatus(step)}, ${stepDuration(step)}`)}\n\n`;
      if (step.outputExcerpt) yield `${fence(step.outputExcerpt)}\n\n`;
    }
  }
  if (runs === 0) yield '_No procedure runs._\n\n';
  yield '## Denied attempts\n\n';
  let denied = 0;
  for await (const e of src.denied()) {
    denied += 1;
    yield `- ${isoTime(e.time)} ${markdownText(rich`${e.actor}: ${describeEvent(e)}${e.payload.reason ? ` (${payloadText(e.payload.reason)})` : ''}`)}\n`;
  }
  if (denied === 0) yield '_None._\n';
  yield `\n---\n\nAudit: first seq ${tail.firstSeq ?? dash}, last seq ${tail.lastSeq ?? dash}, last hash \`${tail.lastHash ?? dash}\`. `;
  yield 'Check against the log with `edgeops audit verify`.\n';
}

function track(tail: Tail, e: TranscriptEvent): void {
  tail.firstSeq ??= e.seq;
  tail.lastSeq = e.seq;
  tail.lastHash = e.hash;
}

// ---------------------------------------------------------------- JSON

const incidentJson = (i: Incident): Record<string, unknown> => ({
  id: i.id,
  title: i.title,
  severity: i.severity,
  status: i.status,
  service: i.service,
  private: i.private,
  channel: i.channelName,
  roles: i.roles,
  declared_by: i.declaredBy,
  declared_at: isoTime(i.declaredAt),
  acknowledged_at: i.acknowledgedAt === null ? null : isoTime(i.acknowledgedAt),
  resolved_at: i.resolvedAt === null ? null : isoTime(i.resolvedAt),
  time_to_acknowledge_ms: i.acknowledgedAt === null ? null : i.acknowledgedAt - i.declaredAt,
  time_to_resolve_ms: i.resolvedAt === null ? null : i.resolvedAt - i.declaredAt,
  summary: i.summary,
  pagerduty: i.pagerdutyId === null ? null : { id: i.pagerdutyId, url: i.pagerdutyUrl },
});

export async function* renderJson(src: TranscriptSource): AsyncGenerator<string> {
  yield `{"incident":${JSON.stringify(incidentJson(src.incident))},\n"events":[`;
  const tail: Tail = { firstSeq: null, lastSeq: null, lastHash: null };
  for await (const e of src.events()) {
    const row = { seq: e.seq, time: isoTime(e.time), actor: e.actor, source: e.source, kind: e.kind, payload: e.payload, hash: e.hash };
    yield `${tail.firstSeq === null ? '\n' : ',\n'}${JSON.stringify(row)}`;
    track(tail, e);
  }
  yield '\n],\n"runs":[';
  let first = true;
  for (const run of src.runs()) {
    const row = {
      ...run,
      startedAt: run.startedAt === null ? null : isoTime(run.startedAt),
      finishedAt: run.finishedAt === null ? null : isoTime(run.finishedAt),
    };
    yield `${first ? '\n' : ',\n'}${JSON.stringify(row)}`;
    first = false;
  }
  yield '\n],\n"denied":[';
  first = true;
  for await (const e of src.denied()) {
    yield `${first ? '\n' : ',\n'}${JSON.stringify({ seq: e.seq, time: isoTime(e.time), actor: e.actor, payload: e.payload })}`;
    first = false;
  }
  yield `\n],\n"audit":${JSON.stringify({ first_seq: tail.firstSeq, last_seq: tail.lastSeq, last_hash: tail.lastHash })}}\n`;
}

// ---------------------------------------------------------------- HTML

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1d1d1f}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}th,td{border:1px solid #d0d0d5;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f6}td.seq{font-variant-numeric:tabular-nums;text-align:right}pre{background:#f6f8fa;padding:.6rem;overflow:auto;white-space:pre-wrap}
code{font-size:12px}footer{border-top:1px solid #d0d0d5;margin-top:2rem;padding-top:.5rem;color:#555}td,.text{white-space:pre-wrap}`;

export async function* renderHtml(src: TranscriptSource): AsyncGenerator<string> {
  const i = src.incident;
  yield `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${esc(`${i.id}: ${i.title}`)}</title>`;
  yield `<meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head><body>\n`;
  yield `<h1>${esc(`${i.id}: ${i.title}`)}</h1>\n<table>`;
  for (const [k, v] of headerRows(i)) yield `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`;
  yield `</table>\n<h2>Summary</h2>\n<p class="text">${esc(i.summary ?? 'No summary given.')}</p>\n<h2>Timeline</h2>\n`;
  yield '<table><thead><tr><th>Time (UTC)</th><th>Seq</th><th>Actor</th><th>Source</th><th>Event</th></tr></thead><tbody>\n';
  const tail: Tail = { firstSeq: null, lastSeq: null, lastHash: null };
  for await (const e of src.events()) {
    track(tail, e);
    yield `<tr><td>${isoTime(e.time)}</td><td class="seq">${e.seq}</td><td>${esc(e.actor)}</td><td>${esc(e.source)}</td><td>${htmlText(describeEvent(e))}</td></tr>\n`;
  }
  yield '</tbody></table>\n<h2>Procedure runs</h2>\n';
  let runs = 0;
  for (const run of src.runs()) {
    runs += 1;
    yield `<h3>${esc(`${run.id}: ${run.procedure} in ${run.environment} — ${run.state}`)}</h3>\n<ul>`;
    yield `<li>Requested by ${esc(run.requestedBy)}</li><li>Approved by ${esc(run.approvers.join(', ') || dash)}</li>`;
    yield `<li class="text">Parameters: ${esc(
      Object.entries(run.params)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(', ') || dash,
    )}</li></ul>\n`;
    for (const step of run.steps) {
      yield `<h4>${esc(`Step ${step.name}: ${step.outcome}, ${stepStatus(step)}`)}</h4>`;
      if (step.outputExcerpt) yield `<pre><code>${esc(step.outputExcerpt)}</code></pre>\n`;
    }
  }
  if (runs === 0) yield '<p>No procedure runs.</p>\n';
  yield '<h2>Denied attempts</h2>\n<ul>';
  let denied = 0;
  for await (const e of src.denied()) {
    denied += 1;
    yield `<li class="text">${isoTime(e.time)} ${esc(e.actor)}: ${htmlText(describeEvent(e))}${e.payload.reason ? ` (${esc(payloadText(e.payload.reason))})` : ''}</li>`;
  }
  if (denied === 0) yield '<li>None.</li>';
  yield `</ul>\n<footer>Audit: first seq ${tail.firstSeq ?? dash}, last seq ${tail.lastSeq ?? dash}, last hash <code>${esc(tail.lastHash ?? dash)}</code>. `;
  yield 'Check against the log with <code>edgeops audit verify</code>.</footer>\n</body></html>\n';
}

export const RENDERERS = { md: renderMarkdown, json: renderJson, html: renderHtml } as const;

/** A whole transcript as one string (for an upload; files and downloads stream instead). */
export async function renderToString(render: (src: TranscriptSource) => AsyncIterable<string>, src: TranscriptSource): Promise<string> {
  const parts: string[] = [];
  for await (const part of render(src)) parts.push(part);
  return parts.join('');
}
