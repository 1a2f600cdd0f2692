-- item_fields_json (migration 0022) as one expression, which the planner inlines into the calling
-- statement as it does item_json (migration 0010): a list page with `fields` (docs/api.md) builds
-- each row's JSON without a function call, an unnest and an aggregate per row. Each asked field's
-- value is exactly as item_json writes it; the fields come in the item's order
-- (queries.items.Item's), which is the order the service passes them in; a name this function
-- does not know is left out.
-- depends: 0023_item_two_field_sort_indexes
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE OR REPLACE FUNCTION item_fields_json(i items, fields text[]) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT (
        '{'
        || concat_ws(
            ',',
            CASE WHEN 'id' = ANY(fields) THEN '"id":' || to_json(i.id)::text END,
            CASE
                WHEN 'owner_id' = ANY(fields)
                    THEN '"owner_id":' || coalesce(to_json(i.owner_id)::text, 'null')
            END,
            CASE WHEN 'name' = ANY(fields) THEN '"name":' || to_json(i.name)::text END,
            CASE
                WHEN 'description' = ANY(fields)
                    THEN '"description":' || coalesce(to_json(i.description)::text, 'null')
            END,
            CASE WHEN 'tags' = ANY(fields) THEN '"tags":' || to_json(i.tags)::text END,
            CASE WHEN 'metadata' = ANY(fields) THEN '"metadata":' || i.metadata::text END,
            CASE
                WHEN 'created_at' = ANY(fields)
                    THEN '"created_at":' || to_json(api_timestamp(i.created_at))::text
            END,
            CASE
                WHEN 'updated_at' = ANY(fields)
                    THEN '"updated_at":' || to_json(api_timestamp(i.updated_at))::text
            END
        )
        || '}'
    )::json
$$;
