-- Search that finds what people type, over text in one Unicode form (issue 14).
-- 1. Existing rows are normalized as the API now writes them: names, descriptions and tags in NFC,
--    tags trimmed of surrounding whitespace (Unicode White_Space), blank tags dropped, each tag
--    kept once in first-seen order. A tag written decomposed ("cafe" + U+0301) was unreachable by a
--    filter typed composed, and a decomposed name was indexed as two words ("zu", "rich").
-- 2. Name words are folded for search (search_fold): lower case, NFC, without the combining marks
--    U+0300-U+036F after canonical decomposition, so "Zürich", "zürich", "ZURICH" and the
--    decomposed form are all the word "zurich"; non-Latin scripts keep their letters.
-- 3. name_word_deletions: each dictionary word of 5 or more letters (and no digit: a model number
--    one digit off is another model) with itself and each of its one-letter deletions, so that
--    one typo (a
--    deletion, insertion, substitution or swap of neighbours) is a few primary-key probes
--    (similar_name_words) instead of a trigram threshold that a swap in a short word never
--    reaches (word_similarity('chiar', 'chair') is 0.33).
-- 4. item_tags, item_words, name_words and name_word_deletions are rebuilt from items.
-- All in this migration's transaction: writers wait for the commit (a few seconds per 100k items).
-- The rollback restores 0011's functions and rebuilds the derived tables with them; the
-- normalized text stays normalized (NFC is a canonical equivalence: nothing a reader sees changed).
-- depends: 0013_idempotency_keys
SET lock_timeout = '5s';
SET statement_timeout = '10min';

-- The form in which names and search words are compared: lower case, canonically decomposed
-- without the combining marks U+0300-U+036F, recomposed; the letters that carry their accent
-- without a combining mark written as people type them without it (ø o, ł l, đ d, ħ h, ı i,
-- ŧ t, ß ss, æ ae, œ oe, þ th), and final sigma (ς) as σ, which is what lower() makes of a
-- capital Σ. ASCII text (byte length = character length) only needs lower(): the decomposition
-- costs about 2 µs a name, lower() 0.25 µs.
-- A single-expression SQL function that is not STRICT, so the planner inlines it.
CREATE FUNCTION search_fold(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN octet_length(t) = length(t) THEN lower(t)
        ELSE replace(replace(replace(replace(translate(
            normalize(regexp_replace(normalize(lower(t), NFD), '[\u0300-\u036f]+', '', 'g'), NFC),
            'ςøłđħıŧ',
            'σoldhit'
        ), 'ß', 'ss'), 'æ', 'ae'), 'œ', 'oe'), 'þ', 'th')
    END
$$;

-- The words of a name as search compares them: runs of letters and digits of the folded name.
CREATE OR REPLACE FUNCTION item_name_words(name text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT array_remove(regexp_split_to_array(search_fold(name), '[^[:alnum:]]+'), '')
$$;

-- The distinct strings left by deleting one character of `word`.
CREATE FUNCTION word_deletions(word text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT ARRAY(
        SELECT DISTINCT overlay(word PLACING '' FROM n FOR 1)
        FROM generate_series(1, length(word)) AS n
    )
$$;

-- For two different words of the same length that share a one-letter deletion: true when they
-- are one substitution or one swap of neighbouring letters apart (sharing a deletion at other
-- positions may be two edits, e.g. "chiar" and "choir").
CREATE FUNCTION one_substitution_or_swap(a text, b text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT EXISTS (
        SELECT
        FROM generate_series(1, length(a)) AS n
        WHERE
            overlay(a PLACING '' FROM n FOR 1) = overlay(b PLACING '' FROM n FOR 1)
            OR overlay(a PLACING substr(a, n + 1, 1) || substr(a, n, 1) FROM n FOR 2) = b
    )
$$;

CREATE TABLE name_word_deletions (
    deletion text NOT NULL,
    word text NOT NULL,
    CONSTRAINT name_word_deletions_pkey PRIMARY KEY (deletion, word),
    CONSTRAINT name_word_deletions_long_words CHECK (length(word) >= 5 AND word !~ '[0-9]')
);

COMMENT ON TABLE name_word_deletions IS
'Each word of name_words of 5+ letters (no digits) with itself and each of its one-letter '
'deletions. Derived by the trigger function sync_item_search(); never written directly.';

-- The dictionary words similar to one folded search word `q`, each with its score:
--   1                              the word itself;
--   0.8 + 0.1 * word_similarity    a word that starts with q (q of 3 letters or more), or that is
--                                  one typo from q (words of 5 letters or more: q with a letter
--                                  deleted, inserted or substituted, or two neighbours swapped);
--                                  neither for a q with digits (model numbers match exactly);
--   0.8 * word_similarity          any other word with word_similarity >= the pg_trgm threshold
--                                  (0.6 by default).
-- So the exact word comes first, then prefixes and typos (the closer in trigrams, the earlier),
-- then looser trigram matches. Two reads: name_words through name_words_trgm (similarity and
-- prefix, one bitmap), and name_word_deletions_pkey probed with q and each deletion of q: a
-- deletion typo is a word one of whose deletions is q, an insertion typo a word that is itself
-- a deletion of q (the word's own row), a substitution or swap a word of q's length sharing a
-- deletion with it (checked by one_substitution_or_swap, as "chiar" and "choir" share "chir").
-- PL/pgSQL, so that its query is planned once per connection and kept (a generic plan, forced:
-- the search statements run with force_custom_plan, which would replan it at every call). Its
-- plan reads both indexes for every dictionary size tried (105, 3,000, 20,000 and 100,000
-- words; name_words_trgm must not carry a pending list, see below); ANALYZE replans it. Inlined
-- as a SQL function instead, it was planned with every search: 0.61 against 0.30 ms of planning
-- a one-word search, 1.0 against 0.8 ms planning and execution together (EXPLAIN ANALYZE of 100
-- of the benchmark's searches, medians of 5 rounds).
CREATE FUNCTION similar_name_words(q text) RETURNS TABLE (word text, score real)
LANGUAGE plpgsql STABLE PARALLEL SAFE ROWS 5
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT found.word, max(found.score)::real AS score
        FROM (
            SELECT
                n.word,
                CASE
                    WHEN n.word = q THEN 1
                    WHEN length(q) >= 3 AND q !~ '[0-9]' AND starts_with(n.word, q)
                        THEN 0.8 + 0.1 * word_similarity(q, n.word)
                    ELSE 0.8 * word_similarity(q, n.word)
                END AS score
            FROM name_words AS n
            WHERE
                q <% n.word
                OR (
                    length(q) >= 3
                    AND q !~ '[0-9]'
                    AND n.word LIKE replace(replace(replace(q, '\', '\\'), '%', '\%'), '_', '\_') || '%'
                )
            UNION ALL
            SELECT
                d.word,
                CASE WHEN d.word = q THEN 1 ELSE 0.8 + 0.1 * word_similarity(q, d.word) END AS score
            FROM name_word_deletions AS d
            WHERE
                length(q) >= 4
                AND q !~ '[0-9]'
                AND d.deletion = ANY(q || ARRAY(
                    SELECT overlay(q PLACING '' FROM n FOR 1)
                    FROM generate_series(1, length(q)) AS n
                ))
                AND (d.deletion = q OR d.word = d.deletion OR one_substitution_or_swap(q, d.word))
        ) AS found
        GROUP BY found.word;
END;
$$;

-- sync_item_search() as 0011 made it, and a dictionary word new to name_words also gets its
-- deletions in name_word_deletions (words of 5 letters or more; the writer that inserted the word
-- is the only one that adds them, so they are plain inserts). See 0011 for why every statement
-- here has a plan shape that does not depend on the transition tables' sizes.
CREATE OR REPLACE FUNCTION sync_item_search() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- One statement (data-modifying CTEs) instead of three: the common single-row create
        -- pays one executor start instead of three.
        WITH tags_added AS (
            INSERT INTO item_tags (tag, created_at, item_id)
            SELECT DISTINCT added.tag, n.created_at, n.id
            FROM new_rows AS n
            CROSS JOIN LATERAL unnest(n.tags) AS added (tag)
        ),

        words_added AS (
            INSERT INTO item_words (word, item_id)
            SELECT DISTINCT added.word, n.id
            FROM new_rows AS n
            CROSS JOIN LATERAL unnest(item_name_words(n.name)) AS added (word)
            RETURNING word
        ),

        words_new AS (
            INSERT INTO name_words (word)
            SELECT DISTINCT words_added.word
            FROM words_added
            ORDER BY words_added.word
            ON CONFLICT (word) DO NOTHING
            RETURNING word
        )

        INSERT INTO name_word_deletions (deletion, word)
        SELECT DISTINCT gone.deletion, words_new.word
        FROM words_new
        CROSS JOIN
            LATERAL unnest(words_new.word || word_deletions(words_new.word)) AS gone (deletion)
        WHERE length(words_new.word) >= 5 AND words_new.word !~ '[0-9]';
    ELSIF TG_OP = 'UPDATE' THEN
        DELETE FROM item_tags AS t
        WHERE t.ctid = ANY(ARRAY(
            SELECT found.ctid
            FROM (
                SELECT gone.tag, o.created_at, o.id
                FROM old_rows AS o
                CROSS JOIN LATERAL unnest(o.tags) AS gone (tag)
                EXCEPT
                SELECT kept.tag, n.created_at, n.id
                FROM new_rows AS n
                CROSS JOIN LATERAL unnest(n.tags) AS kept (tag)
            ) AS removed
            CROSS JOIN LATERAL (
                SELECT pair.ctid
                FROM item_tags AS pair
                WHERE
                    pair.tag = removed.tag
                    AND pair.created_at = removed.created_at
                    AND pair.item_id = removed.id
                LIMIT 1
            ) AS found
        ));
        INSERT INTO item_tags (tag, created_at, item_id)
        SELECT added.tag, added.created_at, added.id
        FROM (
            SELECT fresh.tag, n.created_at, n.id
            FROM new_rows AS n
            CROSS JOIN LATERAL unnest(n.tags) AS fresh (tag)
            EXCEPT
            SELECT kept.tag, o.created_at, o.id
            FROM old_rows AS o
            CROSS JOIN LATERAL unnest(o.tags) AS kept (tag)
        ) AS added;
        DELETE FROM item_words AS t
        WHERE t.ctid = ANY(ARRAY(
            SELECT found.ctid
            FROM (
                SELECT gone.word, o.id
                FROM old_rows AS o
                CROSS JOIN LATERAL unnest(item_name_words(o.name)) AS gone (word)
                EXCEPT
                SELECT kept.word, n.id
                FROM new_rows AS n
                CROSS JOIN LATERAL unnest(item_name_words(n.name)) AS kept (word)
            ) AS removed
            CROSS JOIN LATERAL (
                SELECT pair.ctid
                FROM item_words AS pair
                WHERE pair.word = removed.word AND pair.item_id = removed.id
                LIMIT 1
            ) AS found
        ));
        WITH added AS (
            INSERT INTO item_words (word, item_id)
            SELECT fresh.word, fresh.id
            FROM (
                SELECT fresh.word, n.id
                FROM new_rows AS n
                CROSS JOIN LATERAL unnest(item_name_words(n.name)) AS fresh (word)
                EXCEPT
                SELECT kept.word, o.id
                FROM old_rows AS o
                CROSS JOIN LATERAL unnest(item_name_words(o.name)) AS kept (word)
            ) AS fresh
            RETURNING word
        ),

        words_new AS (
            INSERT INTO name_words (word)
            SELECT DISTINCT added.word
            FROM added
            ORDER BY added.word
            ON CONFLICT (word) DO NOTHING
            RETURNING word
        )

        INSERT INTO name_word_deletions (deletion, word)
        SELECT DISTINCT gone.deletion, words_new.word
        FROM words_new
        CROSS JOIN
            LATERAL unnest(words_new.word || word_deletions(words_new.word)) AS gone (deletion)
        WHERE length(words_new.word) >= 5 AND words_new.word !~ '[0-9]';
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM item_tags AS t
        WHERE t.ctid = ANY(ARRAY(
            SELECT found.ctid
            FROM old_rows AS o
            CROSS JOIN LATERAL unnest(o.tags) AS gone (tag)
            CROSS JOIN LATERAL (
                SELECT pair.ctid
                FROM item_tags AS pair
                WHERE
                    pair.tag = gone.tag
                    AND pair.created_at = o.created_at
                    AND pair.item_id = o.id
                LIMIT 1
            ) AS found
        ));
        DELETE FROM item_words AS t
        WHERE t.ctid = ANY(ARRAY(
            SELECT found.ctid
            FROM old_rows AS o
            CROSS JOIN LATERAL unnest(item_name_words(o.name)) AS gone (word)
            CROSS JOIN LATERAL (
                SELECT pair.ctid
                FROM item_words AS pair
                WHERE pair.word = gone.word AND pair.item_id = o.id
                LIMIT 1
            ) AS found
        ));
    ELSIF EXISTS (SELECT FROM item_tags) OR EXISTS (SELECT FROM item_words) THEN
        -- TRUNCATE items; skipped when the same statement emptied these tables too, as a second
        -- TRUNCATE of a table the statement holds open is an error.
        TRUNCATE item_tags, item_words;
    END IF;
    RETURN NULL;
END;
$$;

-- Only rows that change are updated (the sync trigger keeps the derived tables meanwhile; they
-- are rebuilt below anyway). The whitespace is Unicode's White_Space, as api.item_input has it.
WITH cleaned AS (
    -- nfc is a keyword of normalize(), not a column (sqlfluff: RF03).
    SELECT
        i.id,
        normalize(i.name, nfc) AS name,  -- noqa: RF03
        normalize(i.description, nfc) AS description,  -- noqa: RF03
        array(
            SELECT kept.tag
            FROM (
                SELECT DISTINCT ON (trimmed.tag) trimmed.tag, given.n
                FROM unnest(i.tags) WITH ORDINALITY AS given (tag, n)
                CROSS JOIN
                    LATERAL (
                        SELECT normalize(
                            btrim(
                                given.tag,
                                E'\t\n\u000b\f\r \u0085\u00a0\u1680\u2000\u2001\u2002\u2003'
                                || E'\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029'
                                || E'\u202f\u205f\u3000'
                            ),
                            nfc
                        ) AS tag
                    ) AS trimmed
                WHERE trimmed.tag <> ''
                ORDER BY trimmed.tag, given.n
            ) AS kept
            ORDER BY kept.n
        ) AS tags
    FROM items AS i
)

UPDATE items
SET name = cleaned.name, description = cleaned.description, tags = cleaned.tags
FROM cleaned
WHERE
    items.id = cleaned.id
    AND (items.name, items.description, items.tags)
    IS DISTINCT FROM (cleaned.name, cleaned.description, cleaned.tags);

-- The dictionary takes few inserts (only words no name had before), and a search reads it on
-- every request: GIN's pending list (fastupdate) would only make those reads slower, and until
-- a vacuum cleaned it the planner priced the index above a sequential scan of 3,000 words (1.5
-- ms of word_similarity calls instead of 0.03 ms through the index).
ALTER INDEX name_words_trgm SET (fastupdate = FALSE);

TRUNCATE item_tags, item_words, name_words, name_word_deletions;

INSERT INTO item_tags (tag, created_at, item_id)
SELECT DISTINCT current_tag.tag, i.created_at, i.id
FROM items AS i
CROSS JOIN LATERAL unnest(i.tags) AS current_tag (tag);

INSERT INTO item_words (word, item_id)
SELECT DISTINCT current_word.word, i.id
FROM items AS i
CROSS JOIN LATERAL unnest(item_name_words(i.name)) AS current_word (word);

INSERT INTO name_words (word)
SELECT DISTINCT w.word
FROM item_words AS w
ORDER BY w.word;

INSERT INTO name_word_deletions (deletion, word)
SELECT DISTINCT gone.deletion, n.word
FROM name_words AS n
CROSS JOIN LATERAL unnest(n.word || word_deletions(n.word)) AS gone (deletion)
WHERE length(n.word) >= 5 AND n.word !~ '[0-9]';
