-- A session setting's current value, to restore it after the build.
SELECT current_setting($1)
