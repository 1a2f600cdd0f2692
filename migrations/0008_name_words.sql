-- The dictionary of words that occur in item names, for single-word fuzzy search: the search text
-- is compared with each distinct word (a few thousand short strings) instead of with every name,
-- and the items holding the similar words are then found through items_name_words (0010).
-- Kept by statement-level triggers, so a bulk upsert adds its new words in one INSERT. Words are
-- never removed: a word no item uses any more only costs one empty index probe when it matches.
-- depends: 0007_items_owner_fk_validate
SET lock_timeout = '5s';
SET statement_timeout = '60s';

-- The words of a name as pg_trgm sees them: runs of letters and digits, lower-cased.
CREATE FUNCTION item_name_words(name text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT array_remove(regexp_split_to_array(lower(name), '[^[:alnum:]]+'), '')
$$;

CREATE TABLE name_words (
    word text NOT NULL,
    CONSTRAINT name_words_pkey PRIMARY KEY (word)
);

-- word_similarity($1, word) >= pg_trgm.word_similarity_threshold: $1 <% word.
CREATE INDEX name_words_trgm ON name_words USING gin (word gin_trgm_ops);

-- Adds the words of the statement's new rows. Sorted, so that two writers adding the same new
-- words take them in the same order and never deadlock.
CREATE FUNCTION remember_name_words() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO name_words (word)
    SELECT DISTINCT new_word
    FROM new_rows, unnest(item_name_words(new_rows.name)) AS new_word
    ORDER BY new_word
    ON CONFLICT (word) DO NOTHING;
    RETURN NULL;
END;
$$;

-- Transition tables allow one event per trigger, hence two.
CREATE TRIGGER items_name_words_insert
AFTER INSERT ON items
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION remember_name_words();

CREATE TRIGGER items_name_words_update
AFTER UPDATE ON items
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION remember_name_words();
