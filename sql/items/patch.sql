-- Purpose: Change the given fields of an item the caller may write (owner or admin); a null
--   parameter leaves its column as it is. Description is nullable, so a flag ($3) says whether
--   to set it.
-- Parameters:
--   $1 uuid: item id
--   $2 text: new name, or null to keep
--   $3 boolean: true to set the description to $4
--   $4 text: new description (may be null)
--   $5 text[]: new tags, or null to keep
--   $6 jsonb: new metadata, or null to keep
--   $7 timestamptz[]: the versions (updated_at) If-Match accepts, or null for any
--   $8 uuid: the caller's id
--   $9 boolean: true when the caller may write any item (admin)
-- Index: items_pkey
-- Rows: zero or one
UPDATE items
SET
    name = coalesce($2, name),
    description = CASE WHEN $3 THEN $4 ELSE description END,
    tags = coalesce($5, tags),
    metadata = coalesce($6, metadata)
WHERE
    id = $1
    AND ($7::timestamptz[] IS NULL OR updated_at = ANY($7))
    AND ($9 OR owner_id = $8)
RETURNING id, owner_id, name, description, tags, metadata, created_at, updated_at;
