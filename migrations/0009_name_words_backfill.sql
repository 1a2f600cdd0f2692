-- Fills the name-word dictionary from the items that existed before its triggers (0008). Its own
-- step, so that the triggers' brief table lock is not held during this scan; rows written since
-- 0008 already added their words, and ON CONFLICT skips them.
-- depends: 0008_name_words
SET lock_timeout = '5s';
SET statement_timeout = 0;

INSERT INTO name_words (word)
SELECT DISTINCT w.old_word
FROM items AS i
CROSS JOIN LATERAL unnest(item_name_words(i.name)) AS w (old_word)
ORDER BY w.old_word
ON CONFLICT (word) DO NOTHING;
