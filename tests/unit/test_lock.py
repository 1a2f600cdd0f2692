"""The locks (requirements/*.txt, `scripts/dev.sh lock`) agree with pyproject.toml: every
dependency there has a tested upper bound and its locked version lies within its bounds, so the
two cannot drift apart; every pin carries hashes; and the install paths use the locks."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
RUNTIME = [Requirement(text) for text in PROJECT["dependencies"]]
EXTRAS = {
    extra: [Requirement(text) for text in texts]
    for extra, texts in PROJECT["optional-dependencies"].items()
}
# What each lock is made from (scripts/dev.sh lock).
LOCKS = {
    "serve": RUNTIME,
    "test": RUNTIME + EXTRAS["test"] + EXTRAS["dev"] + EXTRAS["bench"],
}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)(.*)$")


def _entries(lock: str) -> list[tuple[str, str, str]]:
    """(canonical name, version, the rest: marker and hashes) of each pin of a lock."""
    text = (ROOT / "requirements" / f"{lock}.txt").read_text().replace("\\\n", " ")
    entries = []
    for line in text.splitlines():
        match = _PIN.match(line)
        if match:
            entries.append((canonicalize_name(match[1]), match[2], match[3]))
    return entries


def _versions(lock: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for name, version, _ in _entries(lock):
        found.setdefault(name, set()).add(version)
    return found


@pytest.mark.parametrize(
    "requirement",
    [*RUNTIME, *(requirement for extra in EXTRAS.values() for requirement in extra)],
    ids=str,
)
def test_every_dependency_has_an_upper_bound(requirement: Requirement) -> None:
    operators = {spec.operator for spec in requirement.specifier}
    assert operators & {"<", "<=", "==", "~="}, (
        f"{requirement}: bound it above by the release it is tested with (e.g. <X.Y)"
    )


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_dependency_is_locked_within_its_bounds(lock: str) -> None:
    locked = _versions(lock)
    for requirement in LOCKS[lock]:
        versions = locked.get(canonicalize_name(requirement.name))
        assert versions, f"{requirement.name} is missing from requirements/{lock}.txt"
        for version in versions:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"requirements/{lock}.txt locks {requirement.name}=={version}, outside"
                f" {requirement}: run scripts/dev.sh lock"
            )


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_pin_has_hashes(lock: str) -> None:
    entries = _entries(lock)
    assert entries
    unhashed = [name for name, _, rest in entries if "--hash=sha256:" not in rest]
    assert not unhashed, f"pins without hashes in requirements/{lock}.txt: {unhashed}"


def test_the_test_lock_holds_the_serve_lock() -> None:
    """One venv holds both (scripts/dev.sh install_deps): the serve lock's versions are the test
    lock's."""
    serve, test = _versions("serve"), _versions("test")
    differing = {name: versions for name, versions in serve.items() if versions - test[name]}
    assert not differing, f"run scripts/dev.sh lock: {differing}"


def test_the_image_and_dev_sh_install_from_the_locks() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--require-hashes -r requirements/serve.txt" in dockerfile
    assert "pip install --no-cache-dir --no-deps ." in dockerfile
    dev_sh = (ROOT / "scripts" / "dev.sh").read_text()
    assert '--require-hashes -r "$LOCK_DIR/$1.txt"' in dev_sh
    assert "pip install -q --no-deps -e ." in dev_sh
