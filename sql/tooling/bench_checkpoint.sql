-- Purpose: Write out the dirty pages of a load or a write run now, so that the checkpoint does
--   not land in the next measurement. Not used by the service.
-- Parameters: none
-- Index: none (maintenance)
-- Rows: none
-- sqlfluff:ignore:parsing
CHECKPOINT;
