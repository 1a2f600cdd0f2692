-- Metadata numbers print in at most 1,000 characters (api/item_input.py, MAX_NUMBER_CHARS). Rows
-- stored before that bound may hold numbers that print far longer (1e131071 prints 131,072
-- characters; a page of such items made a backend allocate gigabytes and failed): each such
-- number becomes a JSON string of its value in scientific notation ("1e+131071", with up to 16
-- significant digits), which every page and item read can print. Other numbers and rows stay.
-- depends: 0017_login_throttle_window_index
SET lock_timeout = '5s';
-- One pass over every item's metadata: allow it time on a large table.
SET statement_timeout = '30min';

CREATE OR REPLACE FUNCTION pg_temp.bounded_numbers(value jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    number numeric;
    exponent integer;
BEGIN
    CASE jsonb_typeof(value)
        WHEN 'object' THEN
            RETURN coalesce(
                (SELECT jsonb_object_agg(key, pg_temp.bounded_numbers(member))
                    FROM jsonb_each(value) AS members (key, member)),
                '{}'::jsonb
            );
        WHEN 'array' THEN
            RETURN coalesce(
                (SELECT jsonb_agg(pg_temp.bounded_numbers(element) ORDER BY position)
                    FROM jsonb_array_elements(value) WITH ORDINALITY AS elements (element, position)),
                '[]'::jsonb
            );
        WHEN 'number' THEN
            number := value::numeric;
            IF length(number::text) <= 1000 THEN
                RETURN value;
            END IF;
            IF number = 0 THEN
                RETURN '0'::jsonb;
            END IF;
            exponent := floor(log(abs(number)));
            -- Multiplied, never divided, by a power of ten: 10^-16383 is out of its range.
            number := CASE
                WHEN exponent >= 0 THEN number / power(10::numeric, exponent)
                ELSE number * power(10::numeric, -exponent)
            END;
            RETURN to_jsonb(
                trim_scale(round(number, 15))::text
                || 'e' || CASE WHEN exponent >= 0 THEN '+' ELSE '' END || exponent
            );
        ELSE
            RETURN value;
    END CASE;
END
$$;

-- Only metadata longer than any bounded number can hold one.
UPDATE items
SET metadata = repaired.metadata
FROM (
    SELECT
        candidates.id,
        pg_temp.bounded_numbers(candidates.metadata) AS metadata
    FROM items AS candidates
    WHERE length(candidates.metadata::text) > 1000
) AS repaired
WHERE items.id = repaired.id AND items.metadata IS DISTINCT FROM repaired.metadata;
