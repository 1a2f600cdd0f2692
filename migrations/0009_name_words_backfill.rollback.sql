-- Nothing to undo: 0008's rollback drops the dictionary with the words this step added.
SET lock_timeout = '5s';
SET statement_timeout = '60s';
