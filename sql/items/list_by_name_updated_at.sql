-- Purpose: One page of items by name A to Z, then least recently updated first, the id breaking
--   ties the same way (`sort=name,updated_at`), after a keyset cursor, in range reads of one
--   index: the rest of the cursor's name after the cursor, then the names after it, each branch
--   stopping at the page size (a name shared by 100,000 items costs no more than any other);
--   the first page (a null cursor name) reads items_name_updated_at_id from its start instead.
--   Rows of the cursor's name are read from either index (the name fixed, both give the order).
-- Parameters:
--   $1 bigint: page size (the caller asks for one more row to learn whether a next page exists)
--   $2 text: cursor name, or null for the first page
--   $3 timestamptz: cursor updated_at
--   $4 uuid: cursor id
--   $5 text[]: the fields to answer, in the item's order, or null for the whole item
-- Index: items_name_updated_at_id, items_name_updated_at_id |
--   items_name_updated_at_desc_id_desc (the cursor's name)
-- Rows: up to $1: the page key (the name, updated_at, and the id when $5 is set, else null: it is
--   read from the item's JSON) and the item as JSON: item_json (migration 0010), or
--   item_fields_json of $5 (migration 0024)
SELECT
    page.name,
    page.updated_at,
    CASE WHEN $5::text[] IS NOT NULL THEN page.id END AS id,
    CASE
        WHEN $5::text[] IS NULL THEN item_json(page.item_row)
        ELSE item_fields_json(page.item_row, $5)
    END AS item
FROM (
    (
        SELECT i.name, i.updated_at, i.id, i AS item_row
        FROM items AS i
        WHERE i.name = $2 AND (i.updated_at, i.id) > ($3, $4)
        ORDER BY i.name ASC, i.updated_at ASC, i.id ASC
        LIMIT $1
    )
    UNION ALL
    (
        SELECT i.name, i.updated_at, i.id, i AS item_row
        FROM items AS i
        WHERE i.name > $2
        ORDER BY i.name ASC, i.updated_at ASC, i.id ASC
        LIMIT $1
    )
    UNION ALL
    (
        SELECT i.name, i.updated_at, i.id, i AS item_row
        FROM items AS i
        WHERE $2::text IS NULL
        ORDER BY i.name ASC, i.updated_at ASC, i.id ASC
        LIMIT $1
    )
) AS page
ORDER BY page.name ASC, page.updated_at ASC, page.id ASC
LIMIT $1;
