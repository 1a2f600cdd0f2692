-- Purpose: Vacuum and analyse the items and the tables the search trigger keeps, after the
--   benchmark loads them and after every write run, so every server meets the same tidy tables.
--   Not used by the service.
-- Parameters: none
-- Index: none (maintenance)
-- Rows: none
VACUUM (ANALYZE) items, item_tags, item_words, name_words;
