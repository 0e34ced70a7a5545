-- Scheduled ticks are now one pg-boss job per (task, minute) (src/adapters/jobs/replica-scheduler.ts):
-- the claim rows they replace are no longer written or read.
DROP TABLE IF EXISTS schedule_claims;
