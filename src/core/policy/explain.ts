// A policy decision in words: the outcome, the subject's roles, every matching rule and any approval needed.
import { describeRequest, type Decision, type MatchedRule, type PolicyRequest } from './policy-engine.js';
import { describeApproval, formatRuleSource } from './policy.js';

const HEADLINE: Record<Decision['effect'], string> = {
  allow: 'ALLOWED',
  approval_required: 'ALLOWED ONLY WITH APPROVAL',
  deny: 'DENIED',
};

const OUTCOME: Record<MatchedRule['outcome'], string> = {
  allow: '[allow]',
  approval: '[needs approval]',
  deny: '[deny]',
};

function subjectLine(request: PolicyRequest): string {
  const s = request.subject;
  const extras: string[] = [];
  if (s.groups.length > 0) extras.push(`groups ${s.groups.join(', ')}`);
  if (s.pagerdutyService !== undefined) extras.push(`PagerDuty service ${s.pagerdutyService}`);
  return extras.length > 0 ? `${s.userId} (${extras.join('; ')})` : s.userId;
}

/** Multi-line explanation of `decision` for `request`, ending in a newline. */
export function explainDecision(request: PolicyRequest, decision: Decision): string {
  const lines = [
    `${HEADLINE[decision.effect]}: ${describeRequest(request)}`,
    `subject: ${subjectLine(request)}`,
    `roles:   ${decision.roles.length > 0 ? decision.roles.join(', ') : '(none)'}`,
  ];
  if (decision.matched.length === 0) {
    lines.push('matching rules: none');
  } else {
    lines.push('matching rules:');
    for (const m of decision.matched) {
      const mark = m.decisive ? '*' : '-';
      lines.push(`  ${mark} ${OUTCOME[m.outcome]} ${formatRuleSource(m.source)}: ${m.summary}`);
    }
    if (decision.matched.some((m) => m.decisive)) lines.push('  (* = the rules the decision rests on)');
  }
  if (decision.approval) {
    lines.push(`approval needed: ${describeApproval(decision.approval)}; never the requester, bound to the exact parameters`);
  }
  lines.push(`why: ${decision.reason}`);
  return `${lines.join('\n')}\n`;
}
