-- The dictionary of words that occur in item names, for one-word fuzzy search: the search word
-- is compared with each distinct word (hundreds to thousands of short strings) instead of with
-- every name, and the items holding the similar words are then found through item_words
-- (0009). Filled and kept by 0009's trigger. Words are never removed: a word no item uses any
-- more only costs one empty index probe when it matches a search.
-- depends: 0007_items_owner_fk_validate
SET lock_timeout = '5s';
SET statement_timeout = '60s';

-- The words of a name as pg_trgm sees them: runs of letters and digits, lower-cased. Not STRICT,
-- so that the planner inlines it (array_remove is not strict): called as a SQL function instead,
-- it costs about 9 µs a row rather than 1.
CREATE FUNCTION item_name_words(name text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT array_remove(regexp_split_to_array(lower(name), '[^[:alnum:]]+'), '')
$$;

CREATE TABLE name_words (
    word text NOT NULL,
    CONSTRAINT name_words_pkey PRIMARY KEY (word)
);

COMMENT ON TABLE name_words IS
'Derived from items.name by the trigger function sync_item_search(); never written directly.';

-- word_similarity($1, word) >= pg_trgm.word_similarity_threshold: $1 <% word.
CREATE INDEX name_words_trgm ON name_words USING gin (word gin_trgm_ops);
