// What runs say in channels: start, result with the tail of each step's output, approval requests.
import { formatDuration } from '../duration.js';
import type { ChatMessage } from '../outbox/outbox.js';
import { describeApproval } from '../policy/policy.js';
import { joinRich, rich, userRef } from '../rich-text.js';
import { shortBinding, type Run, type RunStepRecord } from './run.js';
import { stepSummary } from './step-summary.js';

/** How much of each step's output a channel message carries; the rest is in the run's record. */
export const TAIL_CHARS = 1200;

export function outputTail(output: string, max = TAIL_CHARS): string {
  const trimmed = output.replace(/\s+$/, '');
  if (trimmed.length <= max) return trimmed;
  const cut = trimmed.slice(trimmed.length - max);
  const nl = cut.indexOf('\n');
  return `…${nl >= 0 && nl < 200 ? cut.slice(nl) : cut}`;
}

export const paramsText = (params: Record<string, unknown>): string =>
  Object.keys(params).length === 0
    ? 'no parameters'
    : Object.entries(params)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(' ');

export function startMessage(run: Run): ChatMessage {
  return {
    kind: 'run.started',
    text: rich`▶ ${run.id} ${run.procedure} (${run.environment}) started for ${userRef(run.requestedBy)} — ${paramsText(run.params)}`,
    data: { runId: run.id },
  };
}

export function resultMessage(run: Run, steps: RunStepRecord[], outputUrl?: string): ChatMessage {
  const icon = run.state === 'succeeded' ? '✅' : run.state === 'cancelled' ? '⏹' : '❌';
  const took = run.startedAt !== null && run.finishedAt !== null ? ` in ${formatDuration(run.finishedAt - run.startedAt, 'elapsed')}` : '';
  const lines = [`${icon} ${run.id} ${run.procedure} (${run.environment}) ${run.state}${took}${run.error ? ` — ${run.error}` : ''}`];
  for (const step of steps) {
    lines.push(`• ${stepSummary(step)}`);
    const tail = outputTail(step.output);
    if (tail) lines.push('```', tail, '```');
  }
  return { kind: 'run.finished', text: lines.join('\n'), data: { runId: run.id, state: run.state, ...(outputUrl ? { outputUrl } : {}) } };
}

export function approvalRequestMessage(run: Run): ChatMessage {
  return {
    kind: 'run.approval_requested',
    text: joinRich(
      [
        rich`🔐 ${run.id}: ${userRef(run.requestedBy)} asks to run ${run.procedure} in ${run.environment} — ${paramsText(run.params)}`,
        `Needs ${describeApproval(run.approval!)}. Approve with /runbook approve ${run.id}, or deny with /runbook deny ${run.id} [reason].`,
        `Binding ${shortBinding(run.binding)}: the approval holds for this procedure, these parameters and the exact bytes of the scripts it runs; any change voids it.`,
      ],
      '\n',
    ),
    data: { runId: run.id, actions: ['approve', 'deny'] },
  };
}

/** A waiting run the policy or a change no longer lets go ahead: its requester is told why. */
export function voidedMessage(run: Run, reason: string): ChatMessage {
  return {
    kind: 'run.approval_voided',
    text: rich`⛔ ${run.id} ${run.procedure} (${run.environment}), requested by ${userRef(run.requestedBy)}, was denied: ${reason}`,
    data: { runId: run.id },
  };
}
