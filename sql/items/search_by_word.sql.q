WITH similar_words AS MATERIALIZED (
    SELECT s.word, s.score
    FROM similar_name_words(search_fold('QQQ'::text)) AS s
)

SELECT page.score, item_json(i) AS item
FROM (
    SELECT DISTINCT hit.id, w.score
    FROM similar_words AS w
    CROSS JOIN
        LATERAL (
            SELECT candidate.id
            FROM item_words AS iw
            INNER JOIN items AS candidate ON iw.item_id = candidate.id
            WHERE
                iw.word = w.word
                -- The cursor, as a bound on item_id for this word's score.
                AND iw.item_id < CASE
                    WHEN w.score < 2.0::real THEN 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid
                    WHEN w.score = 2.0::real THEN 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid
                    ELSE '00000000-0000-0000-0000-000000000000'::uuid
                END
                AND w.score = (
                    SELECT max(best.score)
                    FROM similar_words AS best
                    WHERE best.word = ANY(item_name_words(candidate.name))
                )
                AND candidate.created_at > '-infinity'::timestamptz
                AND candidate.created_at < 'infinity'::timestamptz
                AND (TRUE)
                AND (TRUE)
                AND (TRUE)
            ORDER BY iw.item_id DESC
            LIMIT 21
        ) AS hit
    ORDER BY w.score DESC, hit.id DESC
    LIMIT 21
) AS page
INNER JOIN items AS i ON page.id = i.id
ORDER BY page.score DESC, page.id DESC;
