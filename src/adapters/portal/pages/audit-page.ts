// The audit page: the chain checked now (verified up to seq N, head hash), the last anchor, and the command that verifies it on the server.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { formatHeadRef } from '../../../core/audit/head-ref.js';
import { html } from '../html.js';
import { layout } from '../layout.js';
import type { PortalDeps } from '../portal-deps.js';
import { sendPage, type Viewer } from '../portal-request.js';
import { shortTime } from './format.js';

/** Who may see the audit page: those the policy grants `audit.view` (docs/portal.md, docs/policy.md). */
export const AUDIT_VIEW = 'audit.view';

/** A shell word as typed: bare when it is plain, single-quoted otherwise. */
const shellWord = (word: string): string => (/^[A-Za-z0-9_./:=@-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);

export async function auditPage(deps: PortalDeps, _req: IncomingMessage, res: ServerResponse, viewer: Viewer): Promise<void> {
  if (!deps.access.allows(viewer.actor, { action: AUDIT_VIEW, channel: null })) {
    sendPage(
      res,
      403,
      layout(
        'Audit',
        html`<h1>Audit</h1><p class="error" role="alert">The policy does not let you view the audit log's status (audit.view); ask an owner of the policy.</p>`,
        viewer,
      ),
    );
    return;
  }
  const { chain, lastAnchor } = await deps.ops.reads.auditStatus();
  const verify = `edgeops audit verify --db ${shellWord(deps.ops.dbPath)}`;
  const status = chain.ok
    ? html`<p class="notice" role="status" id="chain-status">Audit chain intact: verified up to seq ${chain.lastSeq} (${chain.count} rows).</p>
<dl class="facts"><dt>Head</dt><dd><code id="head-ref">${chain.lastSeq === 0 ? '(empty log)' : formatHeadRef({ seq: chain.lastSeq, hash: chain.lastHash })}</code></dd>
<dt>Verified up to seq</dt><dd id="verified-seq">${chain.lastSeq}</dd>
<dt>Head hash</dt><dd><code id="head-hash">${chain.lastHash}</code></dd></dl>`
    : html`<p class="error" role="alert" id="chain-status">Audit chain broken at seq ${chain.seq}: ${chain.reason}. Verified up to seq ${chain.seq - 1}. Stop and keep a copy of the database file; see docs/operations.md.</p>`;
  const anchor = lastAnchor
    ? html`<dl class="facts" id="anchor">
<dt>Anchored head</dt><dd><code>${formatHeadRef(lastAnchor.head)}</code></dd>
<dt>Anchored at</dt><dd>${shortTime(lastAnchor.time)} (audit row #${lastAnchor.seq})</dd>
<dt>Posted to</dt><dd>Slack channel ${lastAnchor.channel} — ${lastAnchor.delivery === 'sent' && lastAnchor.sentAt !== null ? `posted ${shortTime(lastAnchor.sentAt)}` : lastAnchor.delivery === 'failed' ? 'posting failed; see the outbox in the log' : lastAnchor.delivery === 'pending' ? 'waiting to be posted' : 'no posting recorded'}</dd>
</dl>
<p>Check the log holds the anchored head (and has not been rolled back past it):</p>
<pre class="output" tabindex="0" id="verify-anchor">${verify} --expect-head ${formatHeadRef(lastAnchor.head)}</pre>`
    : html`<p class="empty" id="anchor">No anchor yet. With Slack and EDGEOPS_AUDIT_ANCHOR_CHANNEL set, the head is posted there once a day; <code>edgeops audit anchor</code> prints it at any time.</p>`;
  const body = html`<h1>Audit</h1>
<h2>Chain</h2>
${status}
<h2>Last anchor</h2>
${anchor}
<h2>Verify it yourself</h2>
<p>On the server, as the user edgeops runs as (it reads the audit key):</p>
<pre class="output" tabindex="0" id="verify-command">${verify}${chain.ok && chain.lastSeq > 0 ? ` --expect-head ${formatHeadRef({ seq: chain.lastSeq, hash: chain.lastHash })}` : ''}</pre>
<p>It checks the whole chain, that the head named is in it, and that what exports read matches the log; exit 0 when all hold.</p>`;
  sendPage(res, 200, layout('Audit', body, viewer));
}
