-- --verify: amcheck's structural check of a freshly built B-tree index
-- (AccessShareLock only, so it never blocks the application).
SELECT bt_index_check(to_regclass($1)) IS NULL
