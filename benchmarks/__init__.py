"""Load benchmarks for the items API: `python -m benchmarks run` (see benchmarks/README.md)."""
