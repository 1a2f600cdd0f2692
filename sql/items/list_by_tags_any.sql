-- Purpose: One page of items carrying any of the given tags, newest first, after a keyset cursor
--   and within a creation window. Reads item_tags, ordered by (tag, created_at, item_id): each
--   tag's newest entries after the cursor are an index-only range scan of at most $1 rows, the
--   union of those is deduplicated (an item may carry several of the tags) and cut to $1, and
--   only the page's rows are read from items. The cost is the page's, not the tag's frequency.
--   With a metadata filter too, see list_by_metadata.
-- Parameters:
--   $1 bigint: page size
--   $2 timestamptz: created strictly after, or -infinity
--   $3 timestamptz: created strictly before, or infinity
--   $4 timestamptz: cursor created_at, or infinity for the first page
--   $5 uuid: cursor id, or the greatest uuid for the first page
--   $6 text[]: tags, any of which must be present
--   $7 text[]: the fields to answer, in the item's order, or null for the whole item
-- Index: item_tags_pkey, items_pkey
-- Rows: up to $1: the page key (created_at and id) when $7 is set, else nulls (the key
--   is read from the item's JSON), and the item as JSON: item_json (migration 0010), or
--   item_fields_json of $7 (migration 0024)
SELECT
    CASE WHEN $7::text[] IS NOT NULL THEN i.created_at END AS created_at,
    CASE WHEN $7::text[] IS NOT NULL THEN i.id END AS id,
    CASE WHEN $7::text[] IS NULL THEN item_json(i) ELSE item_fields_json(i, $7) END AS item
FROM (
    SELECT DISTINCT hit.item_id, hit.created_at
    FROM unnest($6::text[]) AS wanted (tag)
    CROSS JOIN
        LATERAL (
            SELECT t.item_id, t.created_at
            FROM item_tags AS t
            WHERE
                t.tag = wanted.tag
                AND t.created_at > $2
                AND t.created_at < $3
                AND (t.created_at, t.item_id) < ($4, $5)
            ORDER BY t.created_at DESC, t.item_id DESC
            LIMIT $1
        ) AS hit
    ORDER BY hit.created_at DESC, hit.item_id DESC
    LIMIT $1
) AS page
INNER JOIN items AS i ON page.item_id = i.id
ORDER BY page.created_at DESC, page.item_id DESC;
