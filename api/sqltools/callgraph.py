"""Which endpoints use which statement, derived statically from the source (no import, no run).

statement  ← constant `X = load("domain/name")` in queries/<domain>.py
           ← query functions that read X, or call (in queries/) one that does
           ← functions and methods in api/ that call them, followed through calls
             (`module.f()`, `f()`, `self.m()`, `self.attr.m()` with attr's class known)
             (a function passed to a call, as to functools.partial, counts as called)
           ← routes registered in api/app.py `_add_routes`, `python -m api` commands, and the
             periodic sweep (api/sweeper.py).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_ROUTE_METHODS = {"add_get", "add_post", "add_put", "add_patch", "add_delete"}


@dataclass
class _Module:
    name: str  # "api.handlers.items"
    tree: ast.Module
    aliases: dict[str, str] = field(default_factory=dict)  # local name -> "module" or "module:f"


def statement_users() -> dict[str, list[str]]:
    """statement name -> sorted endpoints ("GET /api/v1/items") and commands using it."""
    queries = _query_functions()
    modules = [_read(path) for path in sorted((ROOT / "api").rglob("*.py"))]
    functions, classes = _definitions(modules)
    calls = {
        key: set(_calls(module, node, key, classes)) for key, (module, node) in functions.items()
    }
    users: dict[str, set[str]] = defaultdict(set)
    for entry, label in _entry_points(modules, classes):
        for statement in _reach(entry, calls, queries):
            users[statement].add(label)
    return {name: sorted(labels) for name, labels in users.items()}


def _read(path: Path) -> _Module:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    module = _Module(name, ast.parse(path.read_text(encoding="utf-8")))
    for node in ast.walk(module.tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                local = alias.asname or alias.name
                target = f"{node.module}.{alias.name}"
                is_module = (ROOT / Path(*target.split("."))).with_suffix(".py").exists()
                module.aliases[local] = target if is_module else f"{node.module}:{alias.name}"
    return module


def _query_functions() -> dict[str, set[str]]:
    """ "queries.items:find" -> the statements it runs: those it reads, and those of the query
    functions it calls, in its module or imported from another one (find -> list_by_tags_all
    -> queries.pool:fetch_planned_per_execution -> PLAN_FOR_VALUES)."""
    reads: dict[str, set[str]] = {}  # "queries.m:f" -> the statements f reads itself
    calls: dict[str, set[str]] = {}  # "queries.m:f" -> the query functions f names
    for path in sorted((ROOT / "queries").glob("*.py")):
        module = _read(path)
        constants = dict(s for s in map(_loaded_statement, module.tree.body) if s is not None)
        functions = {
            node.name: node
            for node in module.tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        for function, node in functions.items():
            names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            key = f"{module.name}:{function}"
            reads[key] = {constants[n] for n in names if n in constants}
            calls[key] = {f"{module.name}:{n}" for n in names if n in functions} | {
                module.aliases[n] for n in names if n in module.aliases
            }
    result: dict[str, set[str]] = {}
    for function in reads:
        reached, pending = {function}, [function]
        while pending:
            for callee in calls[pending.pop()] & reads.keys() - reached:
                reached.add(callee)
                pending.append(callee)
        result[function] = set().union(*(reads[f] for f in reached))
    return result


def _loaded_statement(node: ast.stmt) -> tuple[str, str] | None:
    """("GET_BY_ID", "items/get_by_id") for `GET_BY_ID = load("items/get_by_id")`."""
    if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
        return None
    target, value = node.targets[0], node.value
    if (
        isinstance(target, ast.Name)
        and isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id == "load"
        and value.args
        and isinstance(value.args[0], ast.Constant)
        and isinstance(value.args[0].value, str)
    ):
        return target.id, value.args[0].value
    return None


_Functions = dict[str, tuple[_Module, ast.FunctionDef | ast.AsyncFunctionDef]]
_Classes = dict[str, dict[str, str]]  # "module:Class" -> attribute -> "module:Class" of its value


def _definitions(modules: list[_Module]) -> tuple[_Functions, _Classes]:
    functions: _Functions = {}
    classes: _Classes = {}
    for module in modules:
        for node in module.tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                functions[f"{module.name}:{node.name}"] = (module, node)
            elif isinstance(node, ast.ClassDef):
                key = f"{module.name}:{node.name}"
                classes[key] = {}
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        functions[f"{key}.{item.name}"] = (module, item)
    for module in modules:
        for node in module.tree.body:
            if isinstance(node, ast.ClassDef):
                classes[f"{module.name}:{node.name}"] = _attribute_types(module, node)
    return functions, classes


def _attribute_types(module: _Module, cls: ast.ClassDef) -> dict[str, str]:
    """`self.auth = auth` in __init__, with `auth: Authenticator`: {"auth": "…:Authenticator"}."""
    init = next(
        (n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None
    )
    if init is None:
        return {}
    annotations = {
        a.arg: a.annotation.id
        for a in init.args.args
        if a.annotation is not None and isinstance(a.annotation, ast.Name)
    }
    types = {}
    for node in ast.walk(init):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name):
            for target in node.targets:
                if _is_self_attribute(target) and node.value.id in annotations:
                    assert isinstance(target, ast.Attribute)
                    types[target.attr] = _resolve(module, annotations[node.value.id])
    return types


def _is_self_attribute(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    )


def _resolve(module: _Module, name: str) -> str:
    target = module.aliases.get(name)
    return target if target is not None else f"{module.name}:{name}"


def _calls(module: _Module, function: ast.AST, key: str, classes: _Classes) -> Iterator[str]:
    own_class = key.rsplit(".", 1)[0] if "." in key.split(":", 1)[1] else None
    for node in ast.walk(function):
        if not isinstance(node, ast.Call):
            continue
        for argument in node.args:  # `partial(module.f, ...)`: f is called later
            if (
                isinstance(argument, ast.Attribute)
                and isinstance(argument.value, ast.Name)
                and argument.value.id in module.aliases
                and ":" not in module.aliases[argument.value.id]
            ):
                yield f"{module.aliases[argument.value.id]}:{argument.attr}"
        func = node.func
        if isinstance(func, ast.Name):
            yield _resolve(module, func.id)
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            owner = func.value.id
            if owner == "self" and own_class is not None:
                yield f"{own_class}.{func.attr}"
            elif owner in module.aliases and ":" not in module.aliases[owner]:
                yield f"{module.aliases[owner]}:{func.attr}"
        elif isinstance(func, ast.Attribute) and _is_self_attribute(func.value):
            assert isinstance(func.value, ast.Attribute)
            attribute_class = classes.get(own_class or "", {}).get(func.value.attr)
            if attribute_class is not None:
                yield f"{attribute_class}.{func.attr}"


def _entry_points(modules: list[_Module], classes: _Classes) -> Iterator[tuple[str, str]]:
    """(function key, label) for every HTTP route, every `python -m api` command and the
    periodic sweep."""
    for module in modules:
        if module.name == "api.app":
            yield from _routes(module)
        if module.name == "api.sweeper":
            yield "api.sweeper:Sweeper.sweep", "the periodic sweep (`SWEEP_SECONDS`)"
        command = module.name.removeprefix("api.cli.")
        if module.name.startswith("api.cli.") and command in _CLI_COMMANDS:
            yield f"{module.name}:run", f"`python -m api {command}`"


# Each command's module in api/cli/ runs it with `run`: api/cli/users.py runs `python -m api users`.
_CLI_COMMANDS = {"serve", "migrate", "users"}


def _routes(module: _Module) -> Iterator[tuple[str, str]]:
    for node in module.tree.body:
        if not (isinstance(node, ast.FunctionDef) and node.name == "_add_routes"):
            continue
        handler_types = {
            a.arg: _resolve(module, a.annotation.id)
            for a in node.args.args
            if isinstance(a.annotation, ast.Name)
        }
        for call in ast.walk(node):
            if not (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr in _ROUTE_METHODS
                and len(call.args) == 2
                and isinstance(call.args[0], ast.Constant)
                and isinstance(call.args[1], ast.Attribute)
                and isinstance(call.args[1].value, ast.Name)
            ):
                continue
            handler = call.args[1]
            assert isinstance(handler, ast.Attribute)
            assert isinstance(handler.value, ast.Name)
            owner = handler_types.get(handler.value.id)
            if owner is not None:
                verb = call.func.attr.removeprefix("add_").upper()
                yield f"{owner}.{handler.attr}", f"{verb} {call.args[0].value!s}"


def _reach(entry: str, calls: dict[str, set[str]], queries: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    statements: set[str] = set()
    stack = [entry]
    while stack:
        key = stack.pop()
        if key in seen:
            continue
        seen.add(key)
        statements |= queries.get(key, set())
        stack.extend(calls.get(key, set()))
    return statements
