-- Puts back the item_fields_json of 0022_item_fields_json.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE OR REPLACE FUNCTION item_fields_json(i items, fields text[]) RETURNS json
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
