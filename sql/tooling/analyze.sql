-- Purpose: Refresh the planner statistics of every table of the database after seeding, so that
--   plans are those of a database with this volume. Not used by the service.
-- Parameters: none
-- Index: none (maintenance)
-- Rows: none
ANALYZE;
