-- pgadvisor pool: the server's clock, to recognise the backends this run opens after it
SELECT clock_timestamp()::text AS now
