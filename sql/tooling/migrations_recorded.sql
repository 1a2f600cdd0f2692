-- Purpose: Whether yoyo's bookkeeping table exists, so that `migrate status` can report a new
--   database as all pending without creating yoyo's tables. Not used by the service.
-- Parameters: none
-- Index: none (catalog)
-- Rows: one
SELECT to_regclass('_yoyo_migration') IS NOT NULL AS recorded;
