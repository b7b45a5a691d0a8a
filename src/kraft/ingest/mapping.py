"""A mapping file: how an export in another layout maps onto the import contract (docs/mapping.md).

It says which source (a file name pattern, a sheet) feeds which table, which source column or
constant feeds each contract column, the source's words for enum values and booleans, its date
formats, number separators, encoding and the rows above its header. Every problem is one sentence
naming the mapping key and what to write there; a TODO left by `kraft mapping suggest` is one.
"""

from __future__ import annotations

import codecs
import difflib
import re
import stat
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kraft.errors import InvalidInputError
from kraft.safe_yaml import SafeLoader, YamlRefusedError, load, refused_sentence
from kraft.schema.tables import TABLES_BY_NAME, Column, ColumnType

MAX_MAPPING_BYTES = 1024 * 1024
TODO = "TODO"
DIRECTIVES = set("dmyYbBHMSIpfjaA%")
DATED = (ColumnType.date, ColumnType.month)
NUMERIC = (ColumnType.decimal, ColumnType.int)


class MappingError(InvalidInputError):
    """The mapping file is unreadable or says something kraft cannot do."""


class Formats(BaseModel):
    """How a source writes its values; set under `defaults` or per table (the table's win)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    encoding: str | None = None
    date_format: str | None = None
    decimal_separator: Literal[".", ","] | None = None
    thousands_separator: Literal[",", ".", " ", "'"] | None = None
    true_words: tuple[str, ...] | None = None
    false_words: tuple[str, ...] | None = None


class ColumnMap(BaseModel):
    """A contract column: read `from` a source column, or a constant `value`."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    source: str | None = Field(default=None, alias="from")
    value: str | None = None
    values: dict[str, str | None] = Field(default_factory=dict)
    date_format: str | None = None


class TableMap(Formats):
    """One table of the contract and the source that feeds it: a file pattern (and a sheet), or
    a query run on the database whose URL is in the environment variable `database`."""

    file: str | None = Field(default=None, min_length=1)
    sheet: str | None = None
    query: str | None = Field(default=None, min_length=1)
    database: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    skip_rows: int = Field(default=0, ge=0, le=1000)
    columns: dict[str, ColumnMap] = Field(default_factory=dict)
    ignore: tuple[str, ...] = ()

    @field_validator("columns", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        """`policy_id: Policy No` is short for `policy_id: {from: Policy No}`."""
        if isinstance(value, dict):
            return {k: {"from": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    def option(self, defaults: Formats, name: str) -> Any:
        own = getattr(self, name)
        return own if own is not None else getattr(defaults, name)


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    defaults: Formats = Formats()
    tables: dict[str, TableMap] = Field(min_length=1)


class _TextLoader(SafeLoader):
    """Every scalar is text but null: `Yes`, `N`, `01` and `2024-01-05` stay as written."""


_TextLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag == "tag:yaml.org,2002:null"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_mapping(path: Path) -> Mapping:
    """Read and check a mapping file; MappingError names the key and what to write."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO would block the read
            raise MappingError(f"{path} is not a regular file; give the path to a .yaml file.")
        if info.st_size > MAX_MAPPING_BYTES:
            raise MappingError(f"{path} is over 1 MB, which no mapping needs; check the path.")
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MappingError(f"{path}: no such mapping file; check the path.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"{path} cannot be read ({exc}); save it as UTF-8 text.") from None
    return parse_mapping(text, str(path))


def parse_mapping(text: str, source: str) -> Mapping:
    data = _yaml(text, source)
    if not isinstance(data, dict):
        raise MappingError(
            f"{source}: a mapping is a YAML mapping with a `tables:` key; see docs/mapping.md."
        )
    _refuse_todo(data, (), source)
    try:
        mapping = Mapping.model_validate(data)
    except ValidationError as exc:
        raise MappingError(_pydantic_sentence(exc, source)) from None
    _check(mapping, source)
    return mapping


def _yaml(text: str, source: str) -> Any:
    try:
        return load(text, _TextLoader)
    except YamlRefusedError as exc:
        raise MappingError(refused_sentence(source, exc)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" line {mark.line + 1}" if mark else ""
        raise MappingError(
            f"{source}{where}: YAML syntax error: {exc.problem or 'unreadable'}; check the "
            "indentation and quoting there."
        ) from None
    except yaml.YAMLError as exc:
        raise MappingError(f"{source}: YAML syntax error: {exc}.") from None


def _refuse_todo(node: Any, key: tuple[str, ...], source: str) -> None:
    """A value (or a key) `kraft mapping suggest` left for a person to decide."""
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(k, str) and k.strip().startswith(TODO):
                raise MappingError(
                    f"{source}: {'.'.join(key) or 'the top level'} still has the key {k!r}; "
                    "decide it and write the real key, or remove it."
                )
            _refuse_todo(v, (*key, str(k)), source)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            _refuse_todo(item, (*key, str(index)), source)
    elif isinstance(node, str) and node.strip().startswith(TODO):
        raise MappingError(
            f"{source}: {'.'.join(key)} is still a TODO ({node.strip()}); decide it and write "
            "the value there."
        )


def _pydantic_sentence(exc: ValidationError, source: str) -> str:
    error = exc.errors()[0]
    loc = [str(p) for p in error["loc"]]
    key = ".".join(loc) or "the top level"
    kind = error["type"]
    if loc[-1] == "database" and kind == "string_pattern_mismatch":
        return (
            f"{source}: {key}: name the environment variable that holds the database's URL "
            "(e.g. CRM_DATABASE_URL), never the URL itself."
        )
    if kind == "extra_forbidden":
        return f"{source}: {key} is not a mapping key; remove it or see docs/mapping.md."
    if kind == "missing":
        return f"{source}: {key} is missing; add it (see docs/mapping.md)."
    if kind == "literal_error":
        return f"{source}: {key}: {error['msg'].lower()}; write one of them, quoted."
    return f"{source}: {key}: {error['msg']}; correct the value (see docs/mapping.md)."


def _check(mapping: Mapping, source: str) -> None:
    for problem in _problems(mapping):
        raise MappingError(f"{source}: {problem}")


def _problems(mapping: Mapping) -> Iterator[str]:
    yield from _format_problems(mapping.defaults, "defaults", None)
    for name, entry in mapping.tables.items():
        key = f"tables.{name}"
        spec = TABLES_BY_NAME.get(name)
        if spec is None:
            yield f"{key}: {name!r} is not a table of the import contract; {closest(name, TABLES_BY_NAME)}"
            continue
        yield from _format_problems(entry, key, None)
        yield from _source_problems(entry, key)
        for column_name, column in entry.columns.items():
            ckey = f"{key}.columns.{column_name}"
            if column_name not in spec.column_names:
                yield (
                    f"{ckey}: {name} has no column {column_name!r}; "
                    f"{closest(column_name, spec.column_names)}"
                )
                continue
            yield from _column_problems(column, spec.column(column_name), ckey)


def _source_problems(entry: TableMap, key: str) -> Iterator[str]:
    if (entry.file is None) == (entry.query is None):
        yield (
            f"{key}: say where its rows come from: `file:` (a file name or pattern) or `query:` "
            "(with `database:`), one of them."
        )
    elif entry.query is not None and entry.database is None:
        yield (
            f"{key}.database is missing: name the environment variable holding the database's "
            "URL (e.g. CRM_DATABASE_URL)."
        )
    elif entry.query is None and entry.database is not None:
        yield f"{key}.database is only for a query: source; remove it."
    if entry.query is not None and (entry.sheet is not None or entry.skip_rows):
        yield f"{key}: a query: source has no sheet or skip_rows; remove them."


def closest(word: str, known: Any) -> str:
    names = list(known)
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.5)
    if close:
        return f"did you mean {close[0]}?"
    return f"use one of: {', '.join(names)}."


def _format_problems(formats: Formats, key: str, column: Column | None) -> Iterator[str]:
    if formats.encoding is not None:
        try:
            codecs.lookup(formats.encoding)
        except LookupError:
            yield (
                f"{key}.encoding: {formats.encoding!r} is not an encoding; write utf-8, utf-16, "
                "cp1252 or latin-1."
            )
    if formats.date_format is not None:
        problem = date_format_problem(formats.date_format, ColumnType.date)
        if problem:
            yield f"{key}.date_format: {problem}"
    if (
        formats.decimal_separator is not None
        and formats.decimal_separator == formats.thousands_separator
    ):
        yield (
            f"{key}.thousands_separator: it is also the decimal separator; a source writing "
            "1.234,56 has decimal_separator ',' and thousands_separator '.'."
        )
    true_words = {w.strip().lower() for w in formats.true_words or ()}
    both = true_words & {w.strip().lower() for w in formats.false_words or ()}
    if both:
        yield f"{key}.false_words: {', '.join(sorted(both))} is also a true word; keep it in one."


def _column_problems(column: ColumnMap, spec: Column, key: str) -> Iterator[str]:
    if (column.source is None) == (column.value is None):
        yield (
            f"{key}: say where the column comes from: `from: <source column>` or a constant "
            "`value: <value>` (one of them)."
        )
    if column.date_format is not None:
        if spec.type not in DATED:
            yield f"{key}.date_format: {spec.name} is not a date column; remove the date_format."
        else:
            problem = date_format_problem(column.date_format, spec.type)
            if problem:
                yield f"{key}.date_format: {problem}"
    seen: dict[str, str | None] = {}
    for word, target in column.values.items():
        folded = word.strip().lower()
        if folded in seen and seen[folded] != target:
            yield f"{key}.values: {word!r} appears twice (in any case) with different values; keep one."
        seen[folded] = target
        if spec.type is ColumnType.enum and target is not None and target not in spec.enum:
            yield (
                f"{key}.values.{word}: {target!r} is not a {spec.name} of the contract; "
                f"{closest(target, spec.enum)}"
            )
    if spec.type is ColumnType.enum and column.value is not None and column.value not in spec.enum:
        yield f"{key}.value: {column.value!r} is not a {spec.name}; {closest(column.value, spec.enum)}"


_DIRECTIVE = re.compile(r"%(.)")


def date_format_problem(pattern: str, kind: ColumnType) -> str | None:
    """Why `pattern` is not a strptime pattern for a date (or a month); None when it is."""
    used = set(_DIRECTIVE.findall(pattern))
    unknown = sorted(used - DIRECTIVES)
    if unknown:
        return f"%{unknown[0]} in {pattern!r} is not a date directive; use %d, %m, %Y, %y, %b."
    if not used & {"Y", "y"}:
        return f"{pattern!r} has no year; add %Y (e.g. %d/%m/%Y)."
    if not used & {"m", "b", "B"}:
        return f"{pattern!r} has no month; add %m (e.g. %d/%m/%Y)."
    if kind is ColumnType.date and not used & {"d", "j"}:
        return f"{pattern!r} has no day; add %d (e.g. %d/%m/%Y)."
    sample = datetime(2024, 3, 5, 10, 30, 15)
    try:
        datetime.strptime(sample.strftime(pattern), pattern)
    except ValueError:
        return f"{pattern!r} cannot read back a date it writes; write e.g. %d/%m/%Y."
    return None
