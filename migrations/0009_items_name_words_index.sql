-- Items holding any of a set of name words: item_name_words(name) && $1. GIN array entries are
-- exact, so unlike the trigram index this one needs no recheck of the name.
-- transactional: false
-- squawk-disable-assume-in-transaction
-- depends: 0008_name_words
SET lock_timeout = '5s';
SET statement_timeout = 0;

CREATE INDEX CONCURRENTLY IF NOT EXISTS items_name_words
ON items USING gin (item_name_words(name));
