-- --verify needs amcheck's bt_index_check in this database.
SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'amcheck')
