DROP TABLE supervision_flags;
DROP TABLE callback_attempts;
DROP TABLE callbacks;
ALTER TABLE tickets DROP COLUMN reopen_count;
ALTER TABLE tickets DROP COLUMN redo_count;
ALTER TABLE tickets DROP COLUMN resolved;
ALTER TABLE tickets DROP COLUMN satisfaction;
ALTER TABLE tickets DROP COLUMN callback_result;
