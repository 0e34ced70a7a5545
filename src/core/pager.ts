// The pager port: who is on call, asked of the paging system (PagerDuty) by `/oncall`.

/** A service of the paging system and the escalation policy that pages for it. */
export interface PagerService {
  id: string;
  name: string;
  escalationPolicy: { id: string; name: string } | null;
}

/** One person on call now at one level of one escalation policy. */
export interface OncallEntry {
  escalationPolicy: { id: string; name: string };
  /** 1 is paged first. */
  level: number;
  user: { id: string; name: string };
  /** The schedule that puts them there; null when the policy names them directly (always on call). */
  schedule: string | null;
  /** When this on-call shift ends (ISO 8601), null when open-ended. */
  until: string | null;
}

export interface Pager {
  /** Services whose name matches the query (the paging system's own search). */
  findServices(query: string, signal?: AbortSignal): Promise<PagerService[]>;
  /** Who is on call now, for the given escalation policies (every policy when none are given). */
  oncalls(escalationPolicyIds: readonly string[], signal?: AbortSignal): Promise<OncallEntry[]>;
}
