"""`python -m api sql …`: DBA tooling over `sql/` — check plans, write the catalog, read stats."""
