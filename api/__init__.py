"""The items API: a BlackSheep service over PostgreSQL with hand-written SQL."""
