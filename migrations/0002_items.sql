-- The items table and the trigger that keeps updated_at current.
-- depends: 0001_extensions
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE TABLE items (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    owner_id uuid,
    name text NOT NULL,
    description text,
    tags text[] NOT NULL DEFAULT '{}',
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT items_pkey PRIMARY KEY (id),
    CONSTRAINT items_name_length CHECK (char_length(name) BETWEEN 1 AND 100),
    CONSTRAINT items_tags_no_nulls CHECK (array_position(tags, NULL) IS NULL),
    CONSTRAINT items_metadata_is_object CHECK (jsonb_typeof(metadata) = 'object')
);

COMMENT ON COLUMN items.owner_id IS
'The principal that created the item; NULL for items made before ownership.';

-- Keeps updated_at current on every UPDATE; shared by every table that has the column.
CREATE FUNCTION touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
END;
$$;

CREATE TRIGGER items_touch_updated_at
BEFORE UPDATE ON items
FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
