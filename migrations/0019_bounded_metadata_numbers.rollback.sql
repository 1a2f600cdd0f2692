-- The repair of 0019 is kept: the numbers it rewrote as strings cannot be told from strings
-- that clients wrote, and the originals are what the service no longer accepts. Nothing to undo.
SET lock_timeout = '5s';
