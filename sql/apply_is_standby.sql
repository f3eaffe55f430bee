-- apply refuses to run on a standby: DDL there fails, and the plan belongs on the primary.
SELECT pg_is_in_recovery() AS in_recovery,
       current_setting('server_version_num')::int4 AS server_version_num,
       current_user::text AS role
