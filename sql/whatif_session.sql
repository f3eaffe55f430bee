-- Session settings for what-if planning: generic plans for $n queries,
-- and no parallel plans so costs compare like for like between runs.
SET plan_cache_mode = force_generic_plan;
SET max_parallel_workers_per_gather = 0;
SET statement_timeout = '30s';
SET application_name = 'pgadvisor';
