"""README.md is a front door that runs as written, and the documents behind it hold together.

The README stays short and its walk-through runs top to bottom against a live server; every
variable a shell example uses is set before, passwords go URL-encoded, what the examples need is
said; every link and anchor of README.md, docs/*.md and benchmarks/README.md resolves inside the
repository; docs/api.md lists every problem type the service answers."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from api.problems import TITLES
from tests import ROOT
from tests.conftest import TEST_SECRET_KEY
from tests.servers import live_server

README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
DOCUMENTS = [README, *DOCS, ROOT / "benchmarks" / "README.md"]
README_MAX_LINES = 200
# The walk-through: from the first user to the clean-up, in one shell.
WALK_THROUGH = ("\n## First user and a token\n", "\n## Stopping and cleaning up\n")
EXAMPLE_ORIGIN = "http://127.0.0.1:8000"
BASH = shutil.which("bash") or "/bin/bash"


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, re.DOTALL)


def prose(text: str) -> str:
    """The text without its fenced code blocks."""
    return re.sub(r"^```.*?^```", "", text, flags=re.DOTALL | re.MULTILINE)


def walk_through() -> list[str]:
    """The shell blocks of the README's walk-through, in order."""
    readme = README.read_text()
    start, end = WALK_THROUGH
    assert start in readme, "the README's walk-through starts with the first user"
    assert end in readme, "the README's walk-through ends before the clean-up"
    return shell_blocks(readme.split(start, 1)[1].split(end, 1)[0])


def assigned_before(blocks: list[str], assigned: set[str], where: str) -> set[str]:
    """Check that each variable a line uses is assigned before it; return what is assigned."""
    assigned = set(assigned)
    for block in blocks:
        for line in block.splitlines():
            if line.lstrip().startswith("#"):
                continue
            used = set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", line))
            for name in sorted(used - assigned):
                # An assignment on the same line counts when it comes first (KEY=$(...$KEY)).
                assigns = re.match(rf"\s*(export\s+)?{name}=", line)
                assert assigns, f"{where}: ${name} is not set: {line}"
            assigned |= set(re.findall(r"^\s*(?:export\s+)?([A-Z_][A-Z0-9_]*)=", line))
    return assigned


def test_the_readme_is_a_front_door() -> None:
    lines = len(README.read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move reference to docs/"


def test_every_variable_an_example_uses_is_set_before() -> None:
    readme = assigned_before(shell_blocks(README.read_text()), set(), "README.md")
    # The documents' examples continue the shell of the README's walk-through.
    after_walk_through = assigned_before(walk_through(), set(), "walk-through")
    assert after_walk_through <= readme
    for document in DOCUMENTS[1:]:
        assigned_before(shell_blocks(document.read_text()), after_walk_through, document.name)


def test_passwords_are_sent_url_encoded_and_jq_is_announced() -> None:
    for document in DOCUMENTS:
        for block in shell_blocks(document.read_text()):
            joined = block.replace("\\\n", " ")
            for command in joined.splitlines():
                if "auth/token" in command:
                    assert "--data-urlencode 'password=" in command, command
                    assert "password=" not in command.split("--data-urlencode")[0], command
    readme = README.read_text()
    assert "| jq " in readme
    # Said before the first example that pipes into it.
    assert "`jq`" in readme[: readme.index("| jq ")], "say that the examples need jq"


def heading_anchors(text: str) -> set[str]:
    """GitHub's anchors of a document's headings: lower case, punctuation dropped, spaces to
    hyphens, and -1, -2… for repeats."""
    anchors: set[str] = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", prose(text), re.MULTILINE):
        anchor = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        unique, count = anchor, 0
        while unique in anchors:
            count += 1
            unique = f"{anchor}-{count}"
        anchors.add(unique)
    return anchors


def test_heading_anchors_follow_github() -> None:
    text = "# Items API\n## Bounded latency: budget, shedding\n```sh\n# not a heading\n```\n"
    text += "## Items API\n## Findings (run of 2026-11-26, commit 11d2b33, `results/latest.md`)\n"
    assert heading_anchors(text) == {
        "items-api",
        "bounded-latency-budget-shedding",
        "items-api-1",
        "findings-run-of-2026-11-26-commit-11d2b33-resultslatestmd",
    }


def test_every_link_and_anchor_resolves_inside_the_repository() -> None:
    for document in DOCUMENTS:
        for target in re.findall(r"\]\(([^)\s]+)\)", prose(document.read_text())):
            where = f"{document.relative_to(ROOT)}: {target}"
            assert not re.match(r"[a-z]+:", target), f"{where} links outside the repository"
            path_part, _, anchor = target.partition("#")
            path = (document.parent / path_part).resolve() if path_part else document
            assert path.is_relative_to(ROOT), f"{where} leaves the repository"
            assert path.exists(), f"{where} does not exist"
            if anchor:
                assert path.suffix == ".md", f"{where}: an anchor into a file that is not Markdown"
                assert anchor in heading_anchors(path.read_text()), f"{where}: no such heading"


def test_docs_api_lists_every_problem_type_the_service_answers() -> None:
    page = (ROOT / "docs" / "api.md").read_text()
    listed = set(re.findall(r"^\| `/problems/([a-z0-9-]+)` \|", page, re.M))
    source = "\n".join(path.read_text() for path in (ROOT / "api").rglob("*.py"))
    answered = set(re.findall(r'slug="([a-z0-9-]+)"', source))
    # OAuth2 errors become their slug: invalid_grant is /problems/invalid-grant.
    oauth = re.findall(r'oauth_error\(\s*\d+,\s*"([a-z_]+)"', source)
    answered |= {error.replace("_", "-") for error in oauth}
    assert {"validation-error", "api-key-limit", "invalid-grant"} <= answered  # the search works
    missing = sorted(answered - listed)
    assert not missing, f"list these problem types in docs/api.md's Errors: {missing}"
    # Without a slug a problem's type is its status's title (`/problems/not-found`).
    by_status = {title.lower().replace(" ", "-") for title in TITLES.values()}
    unknown = sorted(listed - answered - by_status)
    assert not unknown, f"docs/api.md lists problem types the service never answers: {unknown}"


# Step (the comment that starts it) -> what its output must hold.
EXPECTED_STEPS: dict[str, list[str]] = {
    "The first admin, without the API": ["admin@example.com"],
    "Form values URL-encoded": [],
    "create, keeping the new item's id": [],
    "read, keeping its ETag": ["HTTP/1.1 304"],
    "replace (PUT sends the whole item)": ['"tags":["kitchen"]'],
    "partial update": ['"description":"15 bar pump"'],
    "two more in one bulk upsert": ['"created":true'],
    "search:": [],
    "page by page": [],
    "sorted by name": ["0-1/"],
    "some fields alone": ['{"name":"Kitchen scale","tags":["kitchen"]}'],
    "every item at once, streamed": ['{"export":"complete","count":'],
    "and back: an export imported again": ['"created":0,"updated":0'],
    "an API key that may only read": [],
    "delete (204)": [],
    "10,000 demo items to search": ["10,000 items"],
}
KITCHEN = ["Espresso machine", "Kitchen scale", "Moka pot"]


def steps_of(script: str) -> list[tuple[str, str]]:
    """The script cut before each comment that starts a line: (comment, the code up to the next)."""
    steps: list[tuple[str, list[str]]] = []
    for line in script.splitlines():
        if line.startswith("# "):
            steps.append((line[2:], []))
        elif line.strip():
            assert steps, f"code before the first step's comment: {line}"
            steps[-1][1].append(line)
    return [(title, "\n".join(code)) for title, code in steps]


def run_examples(script: str, database_url: str, cwd: Path) -> list[tuple[str, str]]:
    """Run examples in one shell against a live server on the test database, as written but for
    the server's port and the Python of this run; return the output of each part that a
    `@@@ title` line (printed by the script) starts."""
    with live_server(database_url) as port:
        script = script.replace(EXAMPLE_ORIGIN, f"http://127.0.0.1:{port}")
        script = script.replace(".venv/bin/python", shlex.quote(sys.executable))
        done = subprocess.run(
            [BASH, "-c", "set -euo pipefail\n" + script],
            cwd=cwd,  # files the examples write go here, and no developer's .env is read
            env={
                **os.environ,
                "DATABASE_URL": database_url,
                "ENVIRONMENT": "test",
                "SECRET_KEY": TEST_SECRET_KEY,
            },
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    parts = re.findall(r"^@@@ ([^\n]*)\n(.*?)(?=^@@@ |\Z)", done.stdout, re.M | re.S)
    return [(title, body.strip()) for title, body in parts]


needs_curl_and_jq = pytest.mark.skipif(
    not (shutil.which("curl") and shutil.which("jq")) and not os.environ.get("CI"),
    reason="needs curl and jq (scripts/dev.sh test installs them)",
)


@needs_curl_and_jq
def test_the_walk_through_runs_top_to_bottom_as_written(database_url: str, tmp_path: Path) -> None:
    steps = steps_of("".join(walk_through()))
    assert [next(k for k in EXPECTED_STEPS if title.startswith(k)) for title, _ in steps] == list(
        EXPECTED_STEPS
    ), [title for title, _ in steps]
    script = "".join(
        f"printf '\\n@@@ %s\\n' {shlex.quote(title)}\n{code}\n" for title, code in steps
    )
    outputs = dict(run_examples(script, database_url, tmp_path))
    assert list(outputs) == [title for title, _ in steps]
    by_key = {next(k for k in EXPECTED_STEPS if t.startswith(k)): out for t, out in outputs.items()}
    for key, wanted in EXPECTED_STEPS.items():
        for fragment in wanted:
            assert fragment in by_key[key], (key, by_key[key])
    assert re.fullmatch(r"[0-9a-f-]{36}", by_key["create, keeping the new item's id"])
    assert by_key["two more in one bulk upsert"].count('"created":true') == 2
    search = by_key["search:"].splitlines()
    assert sorted(search[:3]) == KITCHEN, search
    assert search[3:] == ["Espresso machine", "Espresso machine"], search  # containment; q=expresso
    assert sorted(by_key["page by page"].splitlines()) == KITCHEN  # each once, over the pages
    assert by_key["an API key that may only read"].splitlines() == ["15 bar pump", "403"]
    assert by_key["delete (204)"].splitlines() == ["204", "404"]
    found = by_key["10,000 demo items to search"].splitlines()[-5:]
    assert len(found) == 5, found
    assert all("kettle" in name for name in found), found


def expecting_statuses(block: str) -> tuple[str, list[str]]:
    """The block with a `@@@ NNN` line printed before each command whose comment ends it with the
    status it answers (`# 412: …`); those statuses, in order."""
    commands = block.replace("\\\n", "\x00").splitlines()
    script, statuses = [], []
    for command in commands:
        found = re.search(r"\s+#\s+(?:the same )?(\d{3})\b.*$", command)
        if found:
            statuses.append(found[1])
            script.append(f"printf '\\n@@@ %s\\n' {found[1]}")
            command = command[: found.start()]
        script.append(command.replace("\x00", "\\\n"))
    return "\n".join(script) + "\n", statuses


@needs_curl_and_jq
def test_the_api_examples_answer_what_their_comments_say(database_url: str, tmp_path: Path) -> None:
    # They continue the walk-through's shell: $AUTH from its first block, $API from its second.
    first_user, walk = walk_through()[:2]
    assert "AUTH=" in first_user
    api = re.search(r"^API=.*\n", walk, re.MULTILINE)
    assert api is not None, "the walk-through sets $API"
    script, statuses = first_user + api[0], []
    for block in shell_blocks((ROOT / "docs" / "api.md").read_text()):
        annotated, expected = expecting_statuses(block)
        script += annotated
        statuses += expected
    assert len(statuses) >= 10, statuses  # the methods, conditional requests, Idempotency-Key
    answers = run_examples(script, database_url, tmp_path)
    assert [status for status, _ in answers] == statuses
    for status, output in answers:
        assert output.startswith(f"HTTP/1.1 {status} "), output[:200]
