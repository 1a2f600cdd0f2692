-- Purpose: The server's version, for the benchmark report. Not used by the service.
-- Parameters: none
-- Index: none (a setting)
-- Rows: one
SELECT current_setting('server_version') AS version_text;
