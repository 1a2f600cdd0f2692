"""Typed query functions, one per named statement in `sql/`."""
