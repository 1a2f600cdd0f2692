"""README.md runs as written: every variable a shell example uses is set before, passwords go
URL-encoded, what the examples need is said, and no link leaves the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", ROOT / "docs" / "architecture.md"]


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, re.DOTALL)


def test_every_variable_an_example_uses_is_set_before() -> None:
    assigned: set[str] = set()
    for block in shell_blocks((ROOT / "README.md").read_text()):
        for line in block.splitlines():
            if line.lstrip().startswith("#"):
                continue
            used = set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", line))
            for name in sorted(used - assigned):
                # An assignment on the same line counts when it comes first (KEY=$(...$KEY)).
                assert re.match(rf"\s*(export\s+)?{name}=", line), f"${name} is not set: {line}"
            assigned |= set(re.findall(r"^\s*(?:export\s+)?([A-Z_][A-Z0-9_]*)=", line))


def test_passwords_are_sent_url_encoded_and_jq_is_announced() -> None:
    readme = (ROOT / "README.md").read_text()
    for block in shell_blocks(readme):
        joined = block.replace("\\\n", " ")
        for command in joined.splitlines():
            if "auth/token" in command:
                assert "--data-urlencode 'password=" in command, command
                assert "password=" not in command.split("--data-urlencode")[0], command
    if "| jq " in readme:
        # Said before the first example that pipes into it.
        assert "`jq`" in readme[: readme.index("| jq ")], "say that the examples need jq"


def test_no_link_leaves_the_repository() -> None:
    for document in DOCUMENTS:
        text = document.read_text()
        prose = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
        for target in re.findall(r"\]\(([^)]+)\)", prose):
            assert not re.match(r"[a-z]+:", target), f"{document.name} links outside: {target}"
            path = (document.parent / target.split("#", 1)[0]).resolve()
            assert path.is_relative_to(ROOT), f"{document.name}: {target} leaves the repository"
            assert path.exists(), f"{document.name}: {target} does not exist"
