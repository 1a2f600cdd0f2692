"""HTTP handlers, one module per domain."""
