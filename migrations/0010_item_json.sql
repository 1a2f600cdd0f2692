-- An item as the API shows it, built as JSON by PostgreSQL, for list and search pages: the
-- service passes a page's rows through to the response instead of decoding 8 columns a row into
-- Python objects and encoding them again (the Python cost of a 50-item page fell from about 200
-- to 90 µs). Single-item responses are still encoded by the service from queries.items.Item;
-- both give the same bytes, which tests/test_items_json.py checks.
-- depends: 0009_item_tags_and_words
SET lock_timeout = '5s';
SET statement_timeout = '60s';

-- The fields, names and order of queries.items.Item; to_json() of this row type is compact
-- ({"id":...,"name":...}), like msgspec's output. (sqlfluff misreads text[] here: noqa.)
CREATE TYPE api_item AS (
    id uuid,
    owner_id uuid,
    name text,
    description text,
    tags text[],  -- noqa: LT01
    metadata jsonb,
    created_at text,
    updated_at text
);

-- RFC 3339 in UTC as msgspec writes it: "2026-01-02T03:04:05.120000Z", or without the fraction
-- when it is zero ("2026-01-02T03:04:05Z"). STABLE because to_char is.
CREATE FUNCTION api_timestamp(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT to_char(
        t AT TIME ZONE 'UTC',
        CASE
            WHEN date_trunc('second', t) = t THEN 'YYYY-MM-DD"T"HH24:MI:SS"Z"'
            ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
        END
    )
$$;

-- Both functions are single-expression SQL functions that are neither STRICT nor SECURITY
-- DEFINER, so the planner inlines them into the calling statement: no function call per row.
CREATE FUNCTION item_json(i items) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT to_json(ROW(
        i.id,
        i.owner_id,
        i.name,
        i.description,
        i.tags,
        i.metadata,
        api_timestamp(i.created_at),
        api_timestamp(i.updated_at)
    )::api_item)
$$;
