"""Results: JSON, a Markdown table with the ratios and targets, and matplotlib PNG charts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any


def add_parser(commands: Any) -> None:
    again = commands.add_parser(
        "report", help="re-render the Markdown table and the charts from a results JSON file"
    )
    again.add_argument("json", type=Path)


def rerender(path: Path) -> int:
    document = json.loads(path.read_text())
    latest = path.parent / "latest.md"
    is_latest = latest.is_file() and document["started_at"] in latest.read_text()
    written = write(document, path.parent, path.stem, latest=is_latest)
    print("\n".join(str(p) for p in written.values()))
    return 0


SERVER_ORDER = [
    "items-api",
    "items-api-replicas",
    "fastapi-sqlalchemy",
    "bare-blacksheep",
    "pgbench",
]
ENDPOINT_ORDER = [
    "get_by_id",
    "list_by_tag",
    "fuzzy_search",
    "paging",
    "create",
    "create_keyed",
    "upsert",
    "patch",
    "bulk_upsert_1000",
    "mixed",
]
# (endpoint, minimum throughput ratio of items-api to the FastAPI + SQLAlchemy peer)
PEER_TARGETS = [
    ("get_by_id", 10.0),
    ("list_by_tag", 5.0),
    ("fuzzy_search", 3.0),
    ("create", 3.0),
    ("bulk_upsert_1000", 10.0),
]
BARE_TARGET = ("get_by_id", 1.3)
P99_TARGET = 0.25  # items-api p99 at most a quarter of the peer's, on every endpoint measured
# (endpoint, the most milliseconds items-api's p99 may take, at the run's connections)
P99_LIMITS = [("get_by_id", 8.0)]


def _index(results: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["endpoint"], r["server"]): r for r in results}


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def compute_targets(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by = _index(results)

    def rps(endpoint: str, server: str) -> float | None:
        r = by.get((endpoint, server))
        return None if r is None or r["ok_requests"] == 0 else r["rps"]

    def p99(endpoint: str, server: str) -> float | None:
        r = by.get((endpoint, server))
        return None if r is None or r["ok_requests"] == 0 else r["p99_ms"]

    checks: list[dict[str, Any]] = []
    for endpoint, minimum in PEER_TARGETS:
        value = _ratio(rps(endpoint, "items-api"), rps(endpoint, "fastapi-sqlalchemy"))
        checks.append(
            {
                "target": f"{endpoint}: throughput >= {minimum:g}x FastAPI+SQLAlchemy",
                "value": value,
                "holds": None if value is None else value >= minimum,
            }
        )
    endpoints = sorted(
        {e for e, s in by if s == "items-api"} & {e for e, s in by if s == "fastapi-sqlalchemy"},
        key=ENDPOINT_ORDER.index,
    )
    for endpoint in endpoints:
        value = _ratio(p99(endpoint, "items-api"), p99(endpoint, "fastapi-sqlalchemy"))
        checks.append(
            {
                "target": f"{endpoint}: p99 <= {P99_TARGET:g}x FastAPI+SQLAlchemy's",
                "value": value,
                "holds": None if value is None else value <= P99_TARGET,
            }
        )
    endpoint, minimum = BARE_TARGET
    value = _ratio(rps(endpoint, "items-api"), rps(endpoint, "bare-blacksheep"))
    checks.append(
        {
            "target": f"{endpoint}: throughput >= {minimum:g}x bare BlackSheep",
            "value": value,
            "holds": None if value is None else value >= minimum,
        }
    )
    for endpoint, limit in P99_LIMITS:
        value = p99(endpoint, "items-api")
        checks.append(
            {
                "target": f"{endpoint}: p99 <= {limit:g} ms",
                "value": value,
                "holds": None if value is None else value <= limit,
            }
        )
    value = _ratio(rps("get_by_id", "items-api"), rps("get_by_id", "pgbench"))
    checks.append(
        {"target": "get_by_id: share of pgbench (no target yet)", "value": value, "holds": None}
    )
    return checks


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _rounds(args: dict[str, Any]) -> str:
    rounds = args.get("rounds", 1)
    if rounds == 1:
        return f"{args['duration']} s per server and endpoint."
    return (
        f"{rounds} rounds of {args['duration']} s per server and endpoint, the servers taking "
        "turns; each figure is the median of the rounds (the worst for max ms)."
    )


def markdown(document: dict[str, Any]) -> str:
    results = document["results"]
    by = _index(results)
    env = document["environment"]
    args = document["settings"]
    lines = [
        f"# Benchmark {document['started_at']} on {env['machine']}",
        "",
        f"`{document['command']}`",
        "",
        f"Commit {env.get('commit') or '?'}. "
        f"{env['cpu']} ({env['cpus']} CPUs), {env['postgres']}, Python {env['python']}. "
        f"{args['items']:,} items; {args['workers']} worker(s) and a pool of {args['pool_size']} "
        f"per server; wrk {args['threads']} threads x {args['connections']} connections "
        f"({args['bulk_connections']} for bulk upserts); pgbench with the same number of "
        f"clients. {_rounds(args)}",
        "",
        "| endpoint | server | req/s | p50 ms | p90 ms | p99 ms | max ms | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    endpoints = sorted({r["endpoint"] for r in results}, key=ENDPOINT_ORDER.index)
    for endpoint in endpoints:
        for server in SERVER_ORDER:
            r = by.get((endpoint, server))
            if r is None:
                continue
            lines.append(
                f"| {endpoint} | {server} | {_fmt(r['rps'])} | {_fmt(r['p50_ms'], 2)} | "
                f"{_fmt(r['p90_ms'], 2)} | {_fmt(r['p99_ms'], 2)} | {_fmt(r['max_ms'], 1)} | "
                f"{r['errors']:,} |"
            )
    lines += [
        "",
        "## Ratios (items-api divided by the other)",
        "",
        "| endpoint | vs FastAPI+SQLAlchemy req/s | p99 vs FastAPI+SQLAlchemy | vs bare req/s | "
        "vs pgbench req/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for endpoint in endpoints:
        mine = by.get((endpoint, "items-api"))
        if mine is None:
            continue

        def other(server: str, key: str, endpoint: str = endpoint) -> float | None:
            r = by.get((endpoint, server))
            return None if r is None else r[key]

        lines.append(
            f"| {endpoint} | {_fmt(_ratio(mine['rps'], other('fastapi-sqlalchemy', 'rps')), 2)}x"
            f" | {_fmt(_ratio(mine['p99_ms'], other('fastapi-sqlalchemy', 'p99_ms')), 2)}x"
            f" | {_fmt(_ratio(mine['rps'], other('bare-blacksheep', 'rps')), 2)}x"
            f" | {_fmt(_ratio(mine['rps'], other('pgbench', 'rps')), 2)}x |"
        )
    timed = [r for r in results if r.get("server_timing")]
    if timed:
        lines += [
            "",
            "## Server-Timing (the items API's responses: mean per round, median of the rounds)",
            "",
            "| endpoint | db ms | total ms in the app | client-side mean ms |",
            "|---|---:|---:|---:|",
        ]
        for r in sorted(timed, key=lambda r: ENDPOINT_ORDER.index(r["endpoint"])):
            t = r["server_timing"]
            lines.append(
                f"| {r['endpoint']} | {t['db_ms']:.2f} | {t['total_ms']:.2f} | "
                f"{_fmt(r.get('mean_ms'), 2)} |"
            )
    lines += replica_section(document)
    lines += ["", "## Targets", ""]
    if document.get("smoke"):
        lines += [
            "A smoke run (a few seconds, a few thousand items) proves the harness works; its",
            "numbers are too short to judge a target by, so none is judged here.",
            "",
        ]
    lines += ["| target | measured | holds |", "|---|---:|:---:|"]
    for check in document["targets"]:
        holds = {True: "yes", False: "**no**", None: "-"}[check["holds"]]
        lines.append(f"| {check['target']} | {_fmt(check['value'], 2)} | {holds} |")
    charts = document.get("charts", [])
    if charts:
        lines += [""] + [f"![{Path(c).stem}]({Path(c).name})" for c in charts]
    return "\n".join(lines) + "\n"


def replica_section(document: dict[str, Any]) -> list[str]:
    """`run --replicas N`: the items API with and without its reads routed to the replicas, and
    where the reads went (/metrics' `db_replica_reads_total{route}`, summed over the rounds)."""
    replicas = document["settings"].get("replicas", 0)
    if not replicas:
        return []
    by = _index(document["results"])
    lines = [
        "",
        f"## Read replicas ({replicas} streaming standby(s) of the run's own primary)",
        "",
        "`items-api` reads the primary only; `items-api-replicas` is the same service with",
        "`DATABASE_REPLICA_URLS`, both on one private primary. Its clients carry the",
        "Consistency-Token of their writes on their following reads (mixed). Shares are of the",
        "reads a replica may serve, summed over the rounds.",
        "",
        "| endpoint | req/s with / without replicas | reads | replica | primary_token |"
        " primary_fallback | retries |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    endpoints = sorted({r["endpoint"] for r in document["results"]}, key=ENDPOINT_ORDER.index)
    for endpoint in endpoints:
        routed_result = by.get((endpoint, "items-api-replicas"))
        if routed_result is None:
            continue
        plain = by.get((endpoint, "items-api"))
        ratio = _ratio(routed_result["rps"], plain["rps"] if plain else None)
        routed = routed_result.get("replica_routing") or {}

        def share(route: str, routed: dict[str, Any] = routed) -> str:
            value = routed.get(f"{route}_share")
            return "-" if value is None else f"{value:.1%} ({routed[route]:,})"

        lines.append(
            f"| {endpoint} | {_fmt(ratio, 3)}x | {routed.get('reads', 0):,} | {share('replica')}"
            f" | {share('primary_token')} | {share('primary_fallback')} |"
            f" {routed.get('retries', 0):,} |"
        )
    return lines


def charts(document: dict[str, Any], stem: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = document["results"]
    by = _index(results)
    endpoints = sorted({r["endpoint"] for r in results}, key=ENDPOINT_ORDER.index)
    servers = [s for s in SERVER_ORDER if any(r["server"] == s for r in results)]
    colors = {
        "items-api": "#1f77b4",
        "items-api-replicas": "#17becf",
        "fastapi-sqlalchemy": "#d62728",
        "bare-blacksheep": "#2ca02c",
        "pgbench": "#7f7f7f",
    }
    title = f"{document['started_at'][:10]} {document['environment']['machine']}"
    width = 0.8 / max(len(servers), 1)

    figure, axes = plt.subplots(figsize=(13, 5.5))
    for number, server in enumerate(servers):
        xs, ys = [], []
        for position, endpoint in enumerate(endpoints):
            r = by.get((endpoint, server))
            if r is not None and r["rps"] > 0:
                xs.append(position + (number - (len(servers) - 1) / 2) * width)
                ys.append(r["rps"])
        bars = axes.bar(xs, ys, width, label=server, color=colors[server])
        axes.bar_label(bars, labels=[f"{y:,.0f}" for y in ys], fontsize=6, rotation=90, padding=2)
    axes.set_yscale("log")
    axes.set_xticks(range(len(endpoints)), endpoints, rotation=20)
    axes.set_ylabel("requests per second (log scale)")
    axes.set_title(f"Throughput per endpoint — {title}")
    axes.legend()
    axes.grid(axis="y", alpha=0.3, which="both")
    figure.tight_layout()
    throughput = stem.with_name(stem.name + "-throughput.png")
    figure.savefig(throughput, dpi=110)
    plt.close(figure)

    columns = 4
    rows = (len(endpoints) + columns - 1) // columns
    figure, grid = plt.subplots(rows, columns, figsize=(15, 3.8 * rows), squeeze=False)
    percentiles = [("p50_ms", "p50"), ("p90_ms", "p90"), ("p99_ms", "p99")]
    for index, endpoint in enumerate(endpoints):
        axes = grid[index // columns][index % columns]
        present = [s for s in servers if (endpoint, s) in by]
        for number, server in enumerate(present):
            r = by[(endpoint, server)]
            xs = [
                p + (number - (len(present) - 1) / 2) * (0.8 / len(present))
                for p in range(len(percentiles))
            ]
            axes.bar(
                xs,
                [max(r[key], 0.001) for key, _ in percentiles],
                0.8 / len(present),
                label=server,
                color=colors[server],
            )
        axes.set_yscale("log")
        axes.set_xticks(range(len(percentiles)), [label for _, label in percentiles])
        axes.set_title(endpoint, fontsize=10)
        axes.set_ylabel("ms (log)")
        axes.grid(axis="y", alpha=0.3, which="both")
    for index in range(len(endpoints), rows * columns):
        grid[index // columns][index % columns].axis("off")
    handles, labels = grid[0][0].get_legend_handles_labels()
    figure.suptitle(f"Latency percentiles — {title}", y=0.995, fontsize=11)
    figure.legend(
        handles, labels, loc="upper center", ncol=len(servers), bbox_to_anchor=(0.5, 0.975)
    )
    figure.tight_layout(rect=(0, 0, 1, 0.94))
    latency = stem.with_name(stem.name + "-latency.png")
    figure.savefig(latency, dpi=100)
    plt.close(figure)
    return [throughput, latency]


def write(document: dict[str, Any], output: Path, stem_name: str, latest: bool) -> dict[str, Path]:
    output.mkdir(parents=True, exist_ok=True)
    stem = output / stem_name
    document["targets"] = compute_targets(document["results"])
    if document.get("smoke"):
        for check in document["targets"]:
            check["holds"] = None
    pictures = charts(document, stem)
    document["charts"] = [p.name for p in pictures]
    json_path = stem.with_suffix(".json")
    json_path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    md_path = stem.with_suffix(".md")
    md_path.write_text(markdown(document))
    written = {"json": json_path, "markdown": md_path}
    for picture in pictures:
        written[picture.stem.rsplit("-", 1)[-1]] = picture
    if latest:
        for kind in ("throughput", "latency"):
            shutil.copyfile(written[kind], output / f"latest-{kind}.png")
        shutil.copyfile(md_path, output / "latest.md")
    return written
