ALTER TABLE exports DROP COLUMN include_confidential;
