DROP TABLE calendar_changes;
DROP TABLE calendar_years;
