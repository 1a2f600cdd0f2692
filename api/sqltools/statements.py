"""The statements of `sql/`: each file's name, text and parsed header."""

from __future__ import annotations

from dataclasses import dataclass

from api.sqltools.headers import Header, HeaderError, parse_header
from queries.loader import all_statement_names, load

# Statements under sql/tooling/ serve these commands, not the service: the catalog lists them
# apart and `sql check` does not plan them.
TOOLING_PREFIX = "tooling/"
# Statements under sql/session/ change a setting (SET LOCAL): the service runs them, but they
# have no plan for `sql check` to check.
SESSION_PREFIX = "session/"


@dataclass(frozen=True)
class Statement:
    name: str  # e.g. "items/get_by_id"
    text: str
    header: Header

    @property
    def path(self) -> str:
        return f"sql/{self.name}.sql"

    @property
    def is_tooling(self) -> bool:
        return self.name.startswith(TOOLING_PREFIX)

    @property
    def explains(self) -> bool:
        """Whether it is an EXPLAIN: its answer is a plan (an estimate), and it reads no row."""
        body = [line for line in self.text.splitlines() if not line.startswith("--")]
        return " ".join(body).lstrip().upper().startswith("EXPLAIN")

    @property
    def is_planned(self) -> bool:
        """Whether `sql check` plans it: every service statement but the settings."""
        return not self.is_tooling and not self.name.startswith(SESSION_PREFIX)


@dataclass(frozen=True)
class BadStatement:
    name: str
    error: str


def read_statements() -> tuple[list[Statement], list[BadStatement]]:
    """Every file under `sql/`, split into those whose header parses and those whose does not."""
    good: list[Statement] = []
    bad: list[BadStatement] = []
    for name in all_statement_names():
        text = load(name)
        try:
            good.append(Statement(name, text, parse_header(text)))
        except HeaderError as exc:
            bad.append(BadStatement(name, f"header: {exc}"))
    return good, bad


def tooling(name: str) -> str:
    """The text of `sql/tooling/<name>.sql`."""
    return load(TOOLING_PREFIX + name)
