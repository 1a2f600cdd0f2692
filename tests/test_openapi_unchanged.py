"""The route table builds the OpenAPI document byte for byte as the hand-written paths did."""

from __future__ import annotations

from pathlib import Path

import msgspec

from api.openapi import build_openapi


def test_the_document_is_the_one_written_by_hand_before() -> None:
    before = (Path(__file__).parent / "openapi_before.json").read_bytes()
    assert msgspec.json.encode(build_openapi()) == before
