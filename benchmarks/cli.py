"""`python -m benchmarks`: the parser of every benchmark command, and which one runs."""

from __future__ import annotations

import argparse
import sys

from benchmarks import (
    bulk,
    ceiling,
    instructions,
    overload,
    report,
    runner,
    scaling,
    search_quality,
    tools,
)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    commands = parser.add_subparsers(dest="command", required=True)
    runner.add_parser(commands)
    report.add_parser(commands)
    instructions.add_parser(commands)
    search_quality.add_parser(commands)
    overload.add_parser(commands)
    scaling.add_parser(commands)
    ceiling.add_parser(commands)
    bulk.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "report":
        return report.rerender(args.json)
    if args.command == "instructions":
        return instructions.main(args)
    if args.command == "search-quality":
        return search_quality.main(args)
    if args.command == "overload":
        return overload.run(args)
    if args.command == "scaling":
        return scaling.run(args)
    if args.command == "generator-ceiling":
        return ceiling.run(args)
    if args.command == "bulk":
        return bulk.run(args)
    try:
        return runner.run(args)
    except tools.MissingTool as missing:
        print(f"error: {missing}", file=sys.stderr)
        return 3
