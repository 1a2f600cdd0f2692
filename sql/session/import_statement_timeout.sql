-- Purpose: Within the current transaction, let each statement run up to $1 milliseconds: an
--   import's COPY (session/create_item_import) lasts as long as its body takes to arrive, and its
--   one write of all its items (items/import_upsert) longer than a request's statements. The
--   setting ends with the transaction, so no pooled connection keeps it.
--   A setting, not a query: `sql check` has no plan of it to check.
-- Parameters:
--   $1 text: the timeout in milliseconds
-- Index: none (reads no table)
-- Rows: one, the setting's new value
SELECT set_config('statement_timeout', $1, TRUE);
