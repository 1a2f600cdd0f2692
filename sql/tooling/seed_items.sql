-- Purpose: Seed items for `python -m api sql check`: item n has the id
--   00000000-0000-4000-a000-<n in 12 hex digits>, was created n * 5 minutes ago, is owned by user
--   1 + n % $2, is named "<colour> <thing> <n>", carries the tags tag-<n % 200> and group-<n % 20>
--   and the metadata {"colour": ..., "size": n % 10, "batch": n % 1000}.
--   Not used by the service.
-- Parameters:
--   $1 integer: how many items
--   $2 integer: how many users were seeded
-- Index: none (writes only)
-- Rows: none returned; inserts $1
WITH seeds AS (
    SELECT
        g.n,
        (ARRAY[
            'red', 'green', 'blue', 'black', 'white', 'amber', 'violet', 'silver', 'olive', 'teal'
        ])[1 + g.n % 10] AS colour,
        (ARRAY[
            'widget', 'gadget', 'sprocket', 'gizmo', 'bracket', 'flange', 'valve', 'hinge',
            'lever', 'spring', 'pulley', 'gasket', 'bearing', 'nozzle', 'rotor', 'piston',
            'clamp', 'socket', 'washer', 'spindle', 'coupling', 'ratchet', 'chassis', 'dial',
            'beacon', 'lantern', 'compass', 'anchor', 'kettle', 'trowel', 'chisel', 'mallet'
        ])[1 + (g.n / 10) % 32] AS thing
    FROM generate_series(1, $1) AS g (n)
)

INSERT INTO items (id, owner_id, name, description, tags, metadata, created_at, updated_at)
SELECT
    ('00000000-0000-4000-a000-' || lpad(to_hex(s.n), 12, '0'))::uuid AS id,
    ('00000000-0000-4000-8000-' || lpad(to_hex(1 + s.n % $2), 12, '0'))::uuid AS owner_id,
    s.colour || ' ' || s.thing || ' ' || s.n AS name,
    CASE WHEN s.n % 3 > 0 THEN 'A seeded ' || s.thing || ', number ' || s.n END AS description,
    ARRAY['tag-' || s.n % 200, 'group-' || s.n % 20] AS tags,
    jsonb_build_object('colour', s.colour, 'size', s.n % 10, 'batch', s.n % 1000) AS metadata,
    now() - make_interval(mins => s.n * 5) AS created_at,
    now() - make_interval(mins => s.n * 5) AS updated_at
FROM seeds AS s;
