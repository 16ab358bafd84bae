ALTER TABLE tickets DROP COLUMN citizen_address;
