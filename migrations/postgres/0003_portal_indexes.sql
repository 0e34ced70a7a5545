-- Indexes the portal's PostgreSQL reads need beyond those of 0002.

-- The private-incident member rule asks "which incidents was this person invited to?" on every list
-- page; without this index that is a scan of the whole audit log. Partial: only invitation rows.
CREATE INDEX audit_log_member_invites ON audit_log ((payload::jsonb ->> 'user'), incident_id)
  WHERE kind = 'incident.member_invited';

-- The audit page finds the post of the last anchor by the audit row that caused it.
CREATE INDEX outbox_by_cause ON outbox (cause_seq, id);
