"""`python -m benchmarks search-quality`: does fuzzy search find what people type?

Seeds a catalogue into a database of its own (`search_quality_<random>`, dropped at the end, so
runs never collide), through the service's own write path (api.contracts.items, then the bulk
upsert), derives query sets from it with a fixed seed, and reports per set, for this service's
search (`queries.items.find` as GET /api/v1/items?q= runs it, after the API's NFC) and for
`name ILIKE '%q%'` (what most ORM code does):

- recall@10: of the items a query is meant to find (R), the share in the first 10 results,
  |top 10 ∩ R| / min(10, |R|), averaged over the set's queries;
- precision@10: the share of the first 10 results that are in R, over queries with results;
- latency: median and 95th percentile of one search, in ms (one client, sequential).

The catalogue: brand, adjective, material and product words with model suffixes, portraits of
people ("Janette Doe portrait"), names with accented words (French, German, Spanish, Nordic),
Cyrillic, Greek and Japanese names; a fifth of the non-ASCII names are written decomposed (NFD,
as macOS and some keyboards produce). R is computed in Python from the names' words, folded as
the service folds them (lower case, no combining accents).

The sets (each --queries queries):
  exact words        a word of a name, as written;                     R: items with the word
  one typo           a word of 5+ letters with one deletion, insertion, substitution or swap of
                     neighbours (never another dictionary word);       R: items with the word
  prefixes           the first 3 or more letters of a longer word;      R: items with a word
                                                                          starting with them
  two words          two words of one name;                            R: items with both
  two words, typos   two words of 5+ letters of one name, one typo each; R: items with both
  common nouns, typo one of the 10 most frequent product nouns with a typo; R: items with it
  Unicode variants   a non-ASCII word decomposed, upper-cased or without its accents;
                                                                       R: items with the word
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import sys
import unicodedata
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter

import asyncpg
import msgspec

from api import migrate
from api.contracts.common import nfc
from api.contracts.items import BatchItem, clean_write
from api.sqltools.statements import tooling
from queries import items
from queries.items import ItemFilter
from queries.pool import create_pool

HERE = Path(__file__).resolve().parent
PAGE = 10


def _words(text: str) -> list[str]:
    return text.split()


SYLLABLES = _words("ka ve lo ri ta no mi sa tor lex ban vi ro de qua zen fi mar tel cor")
ADJECTIVES = _words(
    "red green blue black white silver golden grey orange purple yellow brown beige navy "
    "compact portable heavy light smart classic modern vintage rustic deluxe premium basic "
    "ergonomic wireless cordless waterproof foldable adjustable organic recycled handmade "
    "industrial quiet rapid electric digital analog magnetic rechargeable solar manual "
    "automatic professional outdoor indoor travel mini giant slim large small round square "
    "soft hard warm cool bright dark glossy matte padded insulated stackable extendable "
    "reversible washable durable lightweight ultralight heated cooled scented"
)
MATERIALS = _words(
    "wooden steel aluminium plastic cotton woollen leather glass ceramic bamboo linen silk "
    "copper brass marble granite walnut oak pine cedar velvet denim canvas rubber carbon"
)
NOUNS = _words(
    "chair table lamp desk shelf sofa kettle blender toaster drill hammer wrench ladder "
    "backpack jacket boots scarf gloves watch camera speaker headphones keyboard monitor router "
    "charger notebook pencil stapler bottle knife spoon bicycle helmet lantern hammock blanket "
    "pillow mattress curtain mirror espresso machine grinder scissors umbrella suitcase wallet "
    "thermos skillet saucepan cushion bookshelf wardrobe dresser cable grill shell boat willow "
    "pattern stool bench cabinet drawer basket bucket broom mop sponge towel apron oven fridge "
    "freezer heater fan purifier humidifier vacuum iron steamer mixer juicer kettlebell "
    "dumbbell treadmill rowing yoga tennis racket paddle kayak canoe tent sleeping stove "
    "cooler flask tumbler mug teapot saucer plate bowl platter tray jug pitcher carafe "
    "decanter goblet printer scanner tablet laptop mouse webcam microphone tripod projector "
    "drone battery adapter socket switch bulb candle vase frame clock poster rug carpet mat "
    "quilt duvet sheet hanger hook rack holder stand organizer sofa bed crib stroller"
)
SUFFIXES = _words("pro max plus lite mk2 mk3 xl one air neo 2000 3000 s2 x5")


def brand_names(rng: random.Random, count: int) -> list[str]:
    """Made-up brand names of 2 or 3 syllables: many close neighbours, as real brands have."""
    made: set[str] = set()
    while len(made) < count:
        made.add("".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 2, 3)))).title())
    return sorted(made)


BRANDS = brand_names(random.Random(1), 300)
FIRST_NAMES = _words(
    "Janette Thomas Amelia Oliver Sophia Lucas Isabella Henry Charlotte Mateo Ingrid Søren "
    "Zoë François Chloé José Renée Björn"
)
LAST_NAMES = _words("Doe Smith Garcia Müller Dubois Rossi Novak Jensen Peña Åkesson Lefèvre")
ACCENTED = _words(
    "café crème brûlée Zürich Köln Málaga São Paulo piñata jalapeño façade résumé naïve "
    "Österreich Ångström smörgåsbord Kraków Łódź Genève Montréal Bogotá soufflé purée entrée "
    "déjà fiancée"
)
NON_LATIN = [
    "Москва сувенир",
    "чайник электрический",
    "матрёшка деревянная",
    "самовар медный",
    "Αθήνα καρτ ποστάλ",
    "ελληνικό κρασί",
    "λάδι ελιάς",
    "東京 タワー 模型",
    "抹茶 セット",
    "京都 扇子",
    "日本 包丁",
]


# search_fold()'s letters that carry their accent without a combining mark, and final sigma.
_LETTERS = str.maketrans(
    {"ø": "o", "ł": "l", "đ": "d", "ħ": "h", "\u0131": "i", "ŧ": "t", "\u03c2": "\u03c3"}
    | {"ß": "ss", "æ": "ae", "œ": "oe", "þ": "th"}
)


def fold(text: str) -> str:
    """Text as migration 0014's search_fold() compares it: lower case, no accents."""
    lowered = text.lower()
    if lowered.isascii():
        return lowered
    decomposed = unicodedata.normalize("NFD", lowered)
    stripped = "".join(c for c in decomposed if not 0x300 <= ord(c) <= 0x36F)
    folded = unicodedata.normalize("NFC", stripped).translate(_LETTERS)
    return folded


def name_words(name: str) -> list[str]:
    return [w for w in re.split(r"[\W_]+", fold(name)) if w]


def random_name(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.55:
        parts = [rng.choice(ADJECTIVES), rng.choice(NOUNS)]
        if rng.random() < 0.4:
            parts.insert(0, rng.choice(BRANDS))
        if rng.random() < 0.3:
            parts.insert(-1, rng.choice(MATERIALS))
        if rng.random() < 0.4:
            parts.append(rng.choice(SUFFIXES))
        if rng.random() < 0.2:
            parts.append(f"{rng.choice('ABCKMTXZ')}{rng.randrange(100, 9999)}")
    elif kind < 0.70:
        parts = [rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES), "portrait"]
    elif kind < 0.90:
        parts = [rng.choice(ACCENTED), rng.choice(NOUNS)]
        if rng.random() < 0.5:
            parts.append(rng.choice(ACCENTED))
        rng.shuffle(parts)
    else:
        parts = [rng.choice(NON_LATIN)]
    name = " ".join(parts)
    name = name[0].upper() + name[1:]
    if not name.isascii() and rng.random() < 0.2:
        name = unicodedata.normalize("NFD", name)  # as macOS and some keyboards write it
    return name


@dataclass
class Query:
    text: str
    relevant: set[uuid.UUID]


class Catalogue:
    def __init__(self, names: dict[uuid.UUID, str]) -> None:
        self.names = names
        self.by_word: dict[str, set[uuid.UUID]] = defaultdict(set)
        for item_id, name in names.items():
            for word in name_words(name):
                self.by_word[word].add(item_id)
        self.dictionary = set(self.by_word)

    def holding(self, *words: str) -> set[uuid.UUID]:
        sets = [self.by_word.get(fold(word), set()) for word in words]
        return set.intersection(*sets) if sets else set()

    def starting_with(self, prefix: str) -> set[uuid.UUID]:
        folded = fold(prefix)
        found: set[uuid.UUID] = set()
        for word, holders in self.by_word.items():
            if word.startswith(folded):
                found |= holders
        return found


def _letters(word: str) -> bool:
    return word.isalpha()


def typo(rng: random.Random, word: str, dictionary: set[str]) -> str | None:
    """One deletion, insertion, substitution or swap of neighbours, never a dictionary word."""
    letters = sorted(set(word.lower()))  # another script: its own letters
    alphabet = "abcdefghijklmnopqrstuvwxyz" if word.isascii() else "".join(letters)
    for _ in range(20):
        spot = rng.randrange(len(word))
        kind = rng.choice(("delete", "insert", "substitute", "swap"))
        if kind == "delete":
            changed = word[:spot] + word[spot + 1 :]
        elif kind == "insert":
            changed = word[:spot] + rng.choice(alphabet) + word[spot:]
        elif kind == "substitute":
            changed = word[:spot] + rng.choice(alphabet) + word[spot + 1 :]
        else:
            spot = min(spot, len(word) - 2)
            changed = word[:spot] + word[spot + 1] + word[spot] + word[spot + 2 :]
        if fold(changed) != fold(word) and fold(changed) not in dictionary:
            return changed
    return None


def _name_words_as_written(name: str) -> list[str]:
    return [w for w in re.split(r"[\W_]+", unicodedata.normalize("NFC", name)) if w]


def query_sets(catalogue: Catalogue, rng: random.Random, count: int) -> dict[str, list[Query]]:
    names = list(catalogue.names.values())
    sizes = Counter({n: len(catalogue.by_word[n]) for n in NOUNS if len(n) >= 5})
    common = [noun for noun, _ in sizes.most_common(10)]

    def drawn(make: Callable[[], Query | None]) -> list[Query]:
        made: list[Query] = []
        for _ in range(count * 50):
            query = make()
            if query is not None and query.relevant:
                made.append(query)
            if len(made) == count:
                break
        return made

    def words_of_random_name(minimum: int) -> list[str]:
        return [w for w in _name_words_as_written(rng.choice(names)) if len(w) >= minimum]

    def exact() -> Query | None:
        words = words_of_random_name(3)
        if not words:
            return None
        word = rng.choice(words)
        return Query(word, catalogue.holding(word))

    def one_typo() -> Query | None:
        words = [w for w in words_of_random_name(5) if _letters(w)]
        if not words:
            return None
        word = rng.choice(words)
        changed = typo(rng, word, catalogue.dictionary)
        return None if changed is None else Query(changed, catalogue.holding(word))

    def prefix() -> Query | None:
        words = [w for w in words_of_random_name(5) if _letters(w)]
        if not words:
            return None
        word = rng.choice(words)
        start = word[: rng.randrange(3, len(word))]
        return Query(start, catalogue.starting_with(start))

    def two_words() -> Query | None:
        words = list(dict.fromkeys(words_of_random_name(3)))
        if len(words) < 2:
            return None
        first, second = sorted(rng.sample(range(len(words)), 2))
        return Query(
            f"{words[first]} {words[second]}", catalogue.holding(words[first], words[second])
        )

    def two_typos() -> Query | None:
        words = list(dict.fromkeys(w for w in words_of_random_name(5) if _letters(w)))
        if len(words) < 2:
            return None
        first, second = (words[i] for i in sorted(rng.sample(range(len(words)), 2)))
        one, two = typo(rng, first, catalogue.dictionary), typo(rng, second, catalogue.dictionary)
        if one is None or two is None:
            return None
        return Query(f"{one} {two}", catalogue.holding(first, second))

    def common_noun() -> Query | None:
        word = rng.choice(common)
        changed = typo(rng, word, catalogue.dictionary)
        return None if changed is None else Query(changed, catalogue.holding(word))

    def unicode_variant() -> Query | None:
        words = [w for w in words_of_random_name(3) if not w.isascii()]
        if not words:
            return None
        word = rng.choice(words)
        variants = {
            unicodedata.normalize("NFD", word),
            word.upper(),
            "".join(c for c in unicodedata.normalize("NFD", word) if not 0x300 <= ord(c) <= 0x36F),
        } - {word}
        if not variants:
            return None
        return Query(rng.choice(sorted(variants)), catalogue.holding(word))

    return {
        "exact words": drawn(exact),
        "one typo": drawn(one_typo),
        "prefixes": drawn(prefix),
        "two words": drawn(two_words),
        "two words, a typo in each": drawn(two_typos),
        "common nouns with a typo": drawn(common_noun),
        "Unicode variants": drawn(unicode_variant),
    }


TARGETS = {
    "exact words": 0.95,
    "one typo": 0.90,
    "prefixes": 0.90,
    "two words": 0.95,
    "two words, a typo in each": 0.85,
    "common nouns with a typo": 0.90,
    "Unicode variants": 0.95,
}


@dataclass
class Measured:
    recall: float
    precision: float
    p50_ms: float
    p95_ms: float


def _score(found: list[uuid.UUID], relevant: set[uuid.UUID]) -> tuple[float, float | None]:
    hits = sum(1 for item_id in found if item_id in relevant)
    precision = hits / len(found) if found else None
    return hits / min(PAGE, len(relevant)), precision


class _Listed(msgspec.Struct):
    id: uuid.UUID


_decode_listed = msgspec.json.Decoder(_Listed).decode


async def _service(pool: asyncpg.Pool, text: str) -> list[uuid.UUID]:
    page = await items.find(pool, ItemFilter(q=nfc(text)), PAGE, None, 2**31)
    return [_decode_listed(raw).id for raw in page.items]


ILIKE = tooling("search_quality_ilike")


async def _ilike(pool: asyncpg.Pool, text: str) -> list[uuid.UUID]:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return [row["id"] for row in await pool.fetch(ILIKE, escaped, PAGE)]


async def _measure(
    pool: asyncpg.Pool,
    queries: list[Query],
    search: Callable[[asyncpg.Pool, str], object],
) -> Measured:
    recalls: list[float] = []
    precisions: list[float] = []
    times: list[float] = []
    for query in queries:
        started = perf_counter()
        found = await search(pool, query.text)  # type: ignore[misc]
        times.append((perf_counter() - started) * 1000)
        recall, precision = _score(found, query.relevant)
        recalls.append(recall)
        if precision is not None:
            precisions.append(precision)
    times.sort()
    return Measured(
        recall=statistics.fmean(recalls),
        precision=statistics.fmean(precisions) if precisions else 0.0,
        p50_ms=statistics.median(times),
        p95_ms=times[int(len(times) * 0.95) - 1],
    )


async def _seed(pool: asyncpg.Pool, rng: random.Random, count: int) -> dict[uuid.UUID, str]:
    names: dict[uuid.UUID, str] = {}
    batch: list[BatchItem] = []
    for _ in range(count):
        item_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        name = random_name(rng)
        names[item_id] = name
        entry = BatchItem(name=name, tags=[], id=item_id)
        clean_write(entry)  # NFC, as the API writes it
        batch.append(entry)
        if len(batch) == 1000:
            await items.upsert_batch(pool, batch, None, True, sys.maxsize)
            batch = []
    if batch:
        await items.upsert_batch(pool, batch, None, True, sys.maxsize)
    async with pool.acquire() as connection:
        await connection.execute(tooling("bench_vacuum"))  # as autovacuum would have by now
    return names


async def _create_database(pg_url: str, name: str, drop: bool) -> None:
    connection = await asyncpg.connect(f"{pg_url}/postgres")
    try:
        # The name is made here, of [a-z0-9_] only; CREATE DATABASE takes no parameters.
        verb = (
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            if drop
            else f'CREATE DATABASE "{name}"'
        )
        await connection.execute(verb)
    finally:
        await connection.close()


def _table(results: dict[str, dict[str, Measured]], sizes: dict[str, int]) -> str:
    lines = [
        "| query set | queries | recall@10 service | recall@10 ILIKE | target | "
        "precision@10 service / ILIKE | p50 / p95 ms service | p50 / p95 ms ILIKE |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, measured in results.items():
        ours, theirs = measured["service"], measured["ilike"]
        holds = "yes" if ours.recall >= TARGETS[name] else "NO"
        lines.append(
            f"| {name} | {sizes[name]} | {ours.recall:.3f} | {theirs.recall:.3f} | "
            f">= {TARGETS[name]:.2f} ({holds}) | {ours.precision:.2f} / {theirs.precision:.2f} | "
            f"{ours.p50_ms:.2f} / {ours.p95_ms:.2f} | {theirs.p50_ms:.2f} / {theirs.p95_ms:.2f} |"
        )
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    database = f"search_quality_{uuid.uuid4().hex[:12]}"
    dsn = f"{args.pg_url}/{database}"
    await _create_database(args.pg_url, database, drop=False)
    try:
        migrate.up(dsn)
        pool = await create_pool(dsn, min_size=1, max_size=2, statement_timeout_ms=30_000)
        try:
            rng = random.Random(args.seed)
            started = perf_counter()
            names = await _seed(pool, rng, args.items)
            print(f"seeded {len(names):,} items in {perf_counter() - started:.1f} s", flush=True)
            catalogue = Catalogue(names)
            sets = query_sets(catalogue, random.Random(args.seed + 1), args.queries)
            for queries in sets.values():  # warm the caches, so that the first set pays no more
                for query in queries[:20]:
                    await _service(pool, query.text)
                    await _ilike(pool, query.text)
            results: dict[str, dict[str, Measured]] = {}
            for name, queries in sets.items():
                results[name] = {
                    "service": await _measure(pool, queries, _service),
                    "ilike": await _measure(pool, queries, _ilike),
                }
        finally:
            await pool.close()
    finally:
        if args.keep:
            print(f"kept database {database}")
        else:
            await _create_database(args.pg_url, database, drop=True)
    table = _table(results, {name: len(queries) for name, queries in sets.items()})
    header = (
        f"`python -m benchmarks search-quality --items {args.items} --queries {args.queries} "
        f"--seed {args.seed}`: {len(names):,} items, {len(catalogue.dictionary):,} distinct name "
        f"words; latency of one search at a time on a shared machine.\n\n"
    )
    print(header + table)
    if args.output is not None:
        args.output.write_text(header + table + "\n")
        print(f"wrote {args.output}")
    failed = [name for name, m in results.items() if m["service"].recall < TARGETS[name]]
    return 1 if failed else 0


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "search-quality", help="recall@10 of fuzzy search against name ILIKE, on a seeded catalogue"
    )
    parser.add_argument("--items", type=int, default=20_000, help="catalogue size (default 20000)")
    parser.add_argument("--queries", type=int, default=200, help="queries per set (default 200)")
    parser.add_argument("--seed", type=int, default=14, help="random seed (default 14)")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432"),
        help="PostgreSQL server, without a database name",
    )
    parser.add_argument("--output", type=Path, help="also write the table to this Markdown file")
    parser.add_argument("--keep", action="store_true", help="keep the database (for EXPLAIN)")


def main(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(run(args))
    except (OSError, asyncpg.PostgresError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
