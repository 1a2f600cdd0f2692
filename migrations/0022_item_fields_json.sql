-- Some of an item's fields as the API shows them (`fields=id,name`, docs/api.md), built as JSON by
-- PostgreSQL: each asked field's value exactly as item_json (migration 0010) writes it, in the
-- order of `fields`, and nothing else computed. The service checks the names and puts them in
-- queries.items.Item's order; a name this function does not know is null.
-- depends: 0021_item_sort_indexes
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE FUNCTION item_fields_json(i items, fields text[]) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT (
        '{'
        || string_agg(
            to_json(f.field)::text || ':' || coalesce(CASE f.field
                WHEN 'id' THEN to_json(i.id)::text
                WHEN 'owner_id' THEN to_json(i.owner_id)::text
                WHEN 'name' THEN to_json(i.name)::text
                WHEN 'description' THEN to_json(i.description)::text
                WHEN 'tags' THEN to_json(i.tags)::text
                WHEN 'metadata' THEN i.metadata::text
                WHEN 'created_at' THEN to_json(api_timestamp(i.created_at))::text
                WHEN 'updated_at' THEN to_json(api_timestamp(i.updated_at))::text
            END, 'null'),
            ',' ORDER BY f.position
        )
        || '}'
    )::json
    FROM unnest(fields) WITH ORDINALITY AS f (field, position)
$$;
