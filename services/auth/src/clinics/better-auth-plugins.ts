import type { Pool } from "pg";
import type { Invalidation } from "../sessions/invalidation.js";
import { accountClaim } from "./account-claim.js";
import { clinicMembership } from "./better-auth-plugin.js";
import { clinicReads } from "./clinic-reads.js";
import { initialPasswordGate } from "./initial-password-gate.js";
import type { CountInvitation } from "./invitation-limits.js";
import { invitationSenders } from "./invitation-senders.js";
import { memberEmails } from "./member-emails.js";
import { memberListQuery } from "./member-list-query.js";
import { reInviteAudit } from "./re-invite-audit.js";
import type { SecurityLog } from "./refusal-audit.js";

/**
 * The clinics' rules on Better Auth's own routes, as its plugins, in the order they must run: the
 * boundaries first (a held-back session or a foreign clinic is refused before anything else is
 * checked), then the membership rules shared with /api (clinics/membership.ts), who may send
 * invitations, and when a clinic's powers over an account end.
 */
export function clinicPlugins(deps: {
  pool: Pool;
  announce: (message: Invalidation) => Promise<void>;
  clientIpHeader: string;
  log: SecurityLog;
  countInvitation: CountInvitation;
}) {
  const entrance = { pool: deps.pool, announce: deps.announce, clientIpHeader: deps.clientIpHeader };
  return [
    initialPasswordGate({ ...entrance, log: deps.log }),
    clinicReads({ ...entrance, log: deps.log }),
    memberListQuery(),
    memberEmails(entrance),
    reInviteAudit(entrance),
    clinicMembership(entrance),
    invitationSenders({ pool: deps.pool, countInvitation: deps.countInvitation }),
    accountClaim({ pool: deps.pool }),
  ];
}
