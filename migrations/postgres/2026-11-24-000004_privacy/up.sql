-- The citizen's contact address (personal, masked) apart from the incident location
-- (tickets.address: where the problem is, shown to the handling departments).
ALTER TABLE tickets ADD COLUMN citizen_address TEXT;
