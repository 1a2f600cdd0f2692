"""`python -m api users list` and `users set-password`, and what their --help texts say."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import httpx
import psycopg

from tests import ROOT
from tests.conftest import PASSWORD, MakeUser
from tests.http.test_full_flow import run_cli


def _login(password: str, email: str) -> dict[str, str]:
    return {"grant_type": "password", "username": email, "password": password}


async def test_users_list_shows_email_scopes_disabled_and_created(
    database_url: str, make_user: MakeUser, password_hash: str
) -> None:
    await make_user("boss@example.com", scopes=("items:read", "items:write", "admin"))
    await make_user("reader@example.com", scopes=("items:read",))
    assert (await run_cli(database_url, "users", "disable", "reader@example.com"))[0] == 0
    # More than one page (500), every one listed once, in email order.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO users (email, password_hash) "
            "SELECT 'bulk' || lpad(n::text, 4, '0') || '@example.com', %s "
            "FROM generate_series(1, 520) AS n",
            (password_hash,),
        )
    code, out, err = await run_cli(database_url, "users", "list")
    assert code == 0, err
    header, *rows = out.splitlines()
    assert header.split() == ["email", "scopes", "disabled", "created"]
    assert len(rows) == 522
    emails = [row.split()[0] for row in rows]
    assert emails == sorted(emails)
    by_email = {row.split()[0]: row.split() for row in rows}
    assert by_email["boss@example.com"][1:3] == ["admin,items:read,items:write", "no"]
    assert by_email["reader@example.com"][1:3] == ["items:read", "yes"]
    assert by_email["bulk0001@example.com"][1] == "items:read"  # the column's default
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", by_email["boss@example.com"][3]
    )
    assert "$argon2" not in out
    # Finding: the default scopes (34 characters) ran into the next column. Columns line up.
    await make_user("all@example.com", scopes=("items:read", "items:write", "keys:manage", "admin"))
    code, out, err = await run_cli(database_url, "users", "list")
    lines = out.splitlines()
    starts = {line.index(" no ") if " no " in line else line.index(" yes ") for line in lines[1:]}
    assert starts == {lines[0].index(" disabled")}, out[:2000]


async def test_set_password_replaces_it_and_refuses_bad_input(
    database_url: str, client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    await make_user("carol@example.com")
    new = "a new long passphrase + & = %"  # survives a form only URL-encoded
    code, out, err = await run_cli(
        database_url, "users", "set-password", "Carol@Example.com", stdin=new + "\n"
    )
    assert code == 0, err
    assert "carol@example.com" in out
    assert new not in out + err
    token = "/api/v1/auth/token"
    assert (await client.post(token, data=_login(new, "carol@example.com"))).status_code == 200
    assert (await client.post(token, data=_login(PASSWORD, "carol@example.com"))).status_code == 400

    code, _, err = await run_cli(
        database_url, "users", "set-password", "carol@example.com", stdin="short\n"
    )
    assert code == 2
    assert "password" in err
    assert (await client.post(token, data=_login(new, "carol@example.com"))).status_code == 200
    code, _, err = await run_cli(
        database_url, "users", "set-password", "nobody@example.com", stdin=new + "\n"
    )
    assert code == 1
    assert "no user" in err


async def test_set_scopes_grants_and_takes_scopes(
    database_url: str, client: httpx.AsyncClient, make_user: MakeUser, app: Any
) -> None:
    """Finding: users made before keys:manage existed could be granted it only with SQL."""
    dave = await make_user("dave@example.com", scopes=("items:read", "items:write"))
    new_key = {"name": "ci", "scopes": ["items:read"]}
    refused = await client.post("/api/v1/api-keys", json=new_key, headers=dave.headers)
    assert refused.status_code == 403
    code, out, err = await run_cli(
        database_url,
        "users",
        "set-scopes",
        "Dave@Example.com",
        "--scopes",
        "items:read,keys:manage",
    )
    assert code == 0, err
    assert "items:read,keys:manage" in out
    app.state.authenticator.forget_everything()  # stands for AUTH_CACHE_SECONDS passing
    token = await client.post("/api/v1/auth/token", data=_login(PASSWORD, "dave@example.com"))
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert (await client.post("/api/v1/api-keys", json=new_key, headers=headers)).status_code == 201
    # items:write was taken: the old token lost it too.
    write = await client.post("/api/v1/items", json={"name": "x"}, headers=dave.headers)
    assert write.status_code == 403
    for bad in ("items:read,root", "", " , "):
        code, _, err = await run_cli(
            database_url, "users", "set-scopes", "dave@example.com", "--scopes", bad
        )
        assert code == 2, bad
        assert "scopes must be some of" in err
    code, _, err = await run_cli(
        database_url, "users", "set-scopes", "nobody@example.com", "--scopes", "items:read"
    )
    assert (code, "no user" in err) == (1, True)


def _help(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "api", *args, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return " ".join(done.stdout.split())


def test_help_says_where_passwords_come_from_and_the_default_scopes() -> None:
    for command in (("users", "create"), ("users", "set-password"), ("users",)):
        text = _help(*command)
        assert "standard input" in text, command
        assert "terminal" in text, command
    create = _help("users", "create")
    assert "default: items:read,items:write" in create
    assert "admin" in create
    assert "email, scopes" in _help("users", "list")


def test_every_users_command_says_what_it_does_and_what_email_is() -> None:
    """Finding: `users disable --help` (and enable, unlock) said nothing beyond its usage."""
    for action, words in (
        ("disable", "AUTH_CACHE_SECONDS"),
        ("enable", "work again"),
        ("unlock", "failed logins"),
        ("set-password", "API keys stay valid"),
    ):
        text = _help("users", action)
        assert words in text, (action, text)
        assert "the user's email" in text, (action, text)
