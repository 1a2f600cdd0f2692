"""Consistency-Token (api/consistency.py): signed, opaque, checked; several merge by the latest
(queries/replicas.py)."""

from __future__ import annotations

import pytest

from api.consistency import MAX_TOKENS, TokenCodec
from api.problems import ProblemError
from queries.replicas import NEVER, Position, ReplicaSet, Target, replica_name

KEY = "unit-test-consistency-key-0123456789-abcdefgh"
POSITION = Position(7716404770118596781, 1, 0x84_3A_2F_10)


def test_a_token_names_its_position_and_holds_only_with_its_key() -> None:
    codec = TokenCodec(KEY)
    token = codec.encode(POSITION)
    assert codec.decode(token) == POSITION
    assert codec.decode(codec.encode(POSITION._replace(lsn=NEVER))).lsn == NEVER
    other = TokenCodec(KEY + "x")
    for bad in (
        other.encode(POSITION),  # signed with another key
        token.replace(".1.", ".2.", 1),  # another timeline, same signature
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        "",
        "1.2.3",
        token + "=",
        "x" * 200,
    ):
        with pytest.raises(ProblemError) as raised:
            codec.decode(bad)
        assert raised.value.status == 422
        assert "header.Consistency-Token" in str(raised.value.detail)


def test_tokens_come_from_every_header_line_and_comma_list() -> None:
    codec = TokenCodec(KEY)
    first, second = (codec.encode(POSITION._replace(lsn=n)) for n in (5, 9))
    lines = [first.encode(), f" {second} , {first}".encode()]
    assert [p.lsn for p in codec.read(lines)] == [5, 9, 5]
    assert codec.read([]) == []
    with pytest.raises(ProblemError):
        codec.read([",".join([first] * (MAX_TOKENS + 1)).encode()])


def test_several_tokens_ask_for_the_latest_and_a_foreign_one_for_the_primary() -> None:
    replica_set = ReplicaSet(
        Target(None, None),  # type: ignore[arg-type]
        [],
        max_lag_s=1.0,
        wait_s=0.05,
        primary_dsn="postgresql://primary/items",
        probe_settings={},
    )
    assert replica_set.merge([]) is None
    # The cluster is not known yet: nothing can be compared, so the primary.
    assert replica_set.merge([POSITION]) == POSITION._replace(lsn=NEVER)
    replica_set.identity = (POSITION.system_identifier, POSITION.timeline)
    positions = [POSITION._replace(lsn=n) for n in (5, 90, 7)]
    assert replica_set.merge(positions) == POSITION._replace(lsn=90)
    for foreign in (
        POSITION._replace(timeline=2),
        POSITION._replace(system_identifier=1),
    ):
        assert replica_set.merge([*positions, foreign]).lsn == NEVER  # type: ignore[union-attr]


def test_a_replica_is_named_without_its_credentials() -> None:
    assert replica_name("postgresql://app:s3cret@db-2.internal:5433/items") == (
        "db-2.internal:5433/items"
    )
    assert replica_name("postgresql://replica/items") == "replica:5432/items"
