"""Facts the contracts state in a form a type checker reads, kept equal to their constants."""

from __future__ import annotations

from typing import get_args

from api.auth.principal import ALL_SCOPES
from api.contracts.users import DEFAULT_SCOPES, Scope


def test_the_scope_type_admits_exactly_the_scopes_the_service_checks() -> None:
    assert get_args(Scope) == ALL_SCOPES
    assert set(DEFAULT_SCOPES) < set(ALL_SCOPES)
