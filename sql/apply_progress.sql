-- Progress of the running index builds (PostgreSQL 12+).
SELECT p.pid,
       p.phase::text                  AS phase,
       p.blocks_total::int8           AS blocks_total,
       p.blocks_done::int8            AS blocks_done,
       p.tuples_total::int8           AS tuples_total,
       p.tuples_done::int8            AS tuples_done,
       p.lockers_total::int8          AS lockers_total,
       p.lockers_done::int8           AS lockers_done
FROM pg_stat_progress_create_index p
WHERE p.pid = ANY($1::int4[])
