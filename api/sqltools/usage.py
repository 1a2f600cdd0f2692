"""Who runs each statement of `sql/`: the routes and the periodic sweep, as recorded in
sql/routes.json while tests drive them (tests/record_routes.py writes it), and the commands
marked below. Deterministic and without a database: it reads files only.
"""

from __future__ import annotations

import json

from api.routes import ROUTES
from queries.loader import SQL_ROOT

RECORDING = SQL_ROOT / "routes.json"
SWEEP = "the periodic sweep (`SWEEP_SECONDS`)"
_USERS = "`python -m api users`"
# With DATABASE_REPLICA_URLS only (queries/replicas.py), so not in the recording, which runs
# without replicas: after each successful write, and in each instance's poller.
_WRITES = "every write's answer, with replicas (Consistency-Token)"
_POLLER = "the replica poller, with replicas"
# The statements `python -m api` commands run, and those only replicas run; unlike a route's,
# these are not recorded.
COMMANDS: dict[str, tuple[str, ...]] = {
    "replication/primary_position": (_WRITES, _POLLER),
    "replication/replay_position": (_POLLER,),
    "auth/clear_login_attempts": (_USERS,),
    "users/create": (_USERS,),
    "users/get_credentials": (_USERS,),
    "users/get_id_by_email": ("`python -m api seed --owner`",),
    "users/list_page": (_USERS,),
    "users/set_disabled": (_USERS,),
    "users/set_password": (_USERS,),
    "users/set_scopes": (_USERS,),
}
_REGENERATE = "run `python -m tests.record_routes`"


class Recording:
    """sql/routes.json: {"routes": {route label: [statement, ...]}, "sweep": [statement, ...]}."""

    def __init__(self, routes: dict[str, list[str]], sweep: list[str]) -> None:
        self.routes = routes
        self.sweep = sweep

    @classmethod
    def read(cls) -> Recording:
        data = json.loads(RECORDING.read_text(encoding="utf-8"))
        return cls(data["routes"], data["sweep"])

    def text(self) -> str:
        return json.dumps({"routes": self.routes, "sweep": self.sweep}, indent=2) + "\n"


def route_labels() -> list[str]:
    """Every route of the table as the recording names it, in the table's order."""
    return [route.label for route in ROUTES]


def statement_users(recording: Recording) -> dict[str, list[str]]:
    """statement name -> sorted routes ("GET /api/v1/items"), sweep and commands that run it."""
    users: dict[str, set[str]] = {}
    for label, statements in recording.routes.items():
        for statement in statements:
            users.setdefault(statement, set()).add(label)
    for statement in recording.sweep:
        users.setdefault(statement, set()).add(SWEEP)
    for statement, commands in COMMANDS.items():
        users.setdefault(statement, set()).update(commands)
    return {name: sorted(labels) for name, labels in users.items()}


def problems(recording: Recording, service_statements: list[str]) -> list[str]:
    """Why the recording and the marks do not fit the routes and statements of the code."""
    found = []
    labels = route_labels()
    if list(recording.routes) != labels:
        missing = sorted(set(labels) - set(recording.routes))
        extra = sorted(set(recording.routes) - set(labels))
        found.append(
            f"sql/routes.json is stale (routes missing: {missing or 'none'}; not routes any more:"
            f" {extra or 'none'}; or in another order than api/routes.py): {_REGENERATE}"
        )
    known = set(service_statements)
    named = {s for statements in recording.routes.values() for s in statements}
    for statement in sorted((named | set(recording.sweep)) - known):
        found.append(f"sql/routes.json names {statement}, which sql/ lacks: {_REGENERATE}")
    for statement in sorted(COMMANDS.keys() - known):
        found.append(f"api/sqltools/usage.py marks {statement}, which sql/ lacks")
    users = statement_users(recording)
    for statement in service_statements:
        if statement not in users:
            found.append(
                f"no route runs {statement} (sql/routes.json), nor the sweep, and no command is"
                f" marked as running it (COMMANDS in api/sqltools/usage.py): {_REGENERATE}, mark"
                " it, or remove it"
            )
    return found
