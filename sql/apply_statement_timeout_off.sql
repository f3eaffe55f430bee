-- statement_timeout off for the build only: returns the value to restore afterwards.
SELECT current_setting('statement_timeout') AS saved,
       set_config('statement_timeout', '0', false) AS now
