-- Confidential tickets go into a ledger export only for supervisors and admins (decided when
-- the job is requested, from the requester's roles).
ALTER TABLE exports ADD COLUMN include_confidential BOOLEAN NOT NULL DEFAULT FALSE;
