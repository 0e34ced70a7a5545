// The narrow ports the portal is given (built from the App in one place: `portalDeps` in platform-routes.ts).
import type { AccessControl } from '../../core/access.js';
import type { TranscriptSource } from '../../core/export/transcript.js';
import type { IncidentVisibility } from '../../core/incidents/incident-visibility.js';
import type { Policy } from '../../core/policy/policy.js';
import type { PortalReadModel } from '../../core/portal/portal-read-model.js';
import type { PortalAudit, PortalSignIn } from '../../core/portal/portal-sessions.js';
import type { Clock } from '../../core/ports.js';
import type { RunService } from '../../core/runs/run-service.js';
import type { Logger } from '../../log.js';
import type { PortalOpsDeps } from './portal-ops-deps.js';

/** Sign in with Slack (OpenID Connect), when SLACK_CLIENT_ID and SLACK_CLIENT_SECRET are set. */
export interface OidcSettings {
  clientId: string;
  clientSecret: string;
  /** Only members of this workspace (SLACK_TEAM_ID) may sign in; unset: any workspace the app is installed in. */
  teamId: string | undefined;
  /** https://slack.com by default (tests point it elsewhere). */
  authorizeUrl: string;
  /** Slack's Web API base (`…/api/`), for openid.connect.token. */
  apiUrl: string;
}

export interface PortalDeps {
  /** Where users reach the bot (EDGEOPS_PUBLIC_URL): the origin POSTs must come from, https → Secure cookies. */
  publicUrl: string;
  /** Key of CSRF tokens (derived from the audit key). */
  csrfKey: string;
  clock: Clock;
  logger: Logger;
  signIn: PortalSignIn;
  read: PortalReadModel;
  visibility: IncidentVisibility;
  access: Pick<AccessControl, 'allows' | 'require'>;
  runs: Pick<RunService, 'get' | 'steps' | 'approvals' | 'forIncident' | 'approve' | 'deny'>;
  policy: () => Policy;
  transcript(incidentId: string): Promise<TranscriptSource>;
  /** The user's groups from the Slack group directory; undefined in local mode (the session's groups then stand). */
  groupsOf(userId: string): Promise<string[]> | undefined;
  audit: PortalAudit;
  oidc?: OidcSettings;
  ops: PortalOpsDeps;
  /** How often a live timeline looks for new events. */
  livePollMs?: number;
}
