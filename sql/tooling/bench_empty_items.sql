-- Purpose: Empty the benchmark database's items before it is loaded again; the search trigger
--   empties item_tags and item_words with it. Not used by the service.
-- Parameters: none
-- Index: none (maintenance)
-- Rows: none
TRUNCATE items;
