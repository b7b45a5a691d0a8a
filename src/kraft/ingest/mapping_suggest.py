"""`kraft mapping suggest`: a mapping proposed from the headers and a sample of an export.

What the sample settles (a table named and shaped like one of the contract's, a column under a
known name, a date pattern that alone reads every value) is written as the mapping's value; what
it cannot settle is a TODO, which `load_mapping` refuses until a person writes the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kraft.ingest.mapping_dates import needs_pattern, patterns_reading
from kraft.ingest.mapping_sample import Sample, read_samples
from kraft.ingest.mapping_words import (
    FALSE_WORDS,
    TABLE_WORDS,
    TRUE_WORDS,
    column_names,
    enum_value,
    normalised,
)
from kraft.schema.tables import TABLES, Column, ColumnType, Table

MAX_ENUM_WORDS = 40
CONTRACT_BOOLS = {"true", "false", "1", "0", "yes", "no"}
COMMA_THOUSANDS = re.compile(r"-?\d{1,3}(,\d{2,3})*,\d{3}(\.\d+)?")
DOT_THOUSANDS = re.compile(r"-?\d{1,3}(\.\d{3})+(,\d+)?")
DECIMAL_COMMA = re.compile(r"-?\d+,\d{1,2}")
PLAIN = re.compile(r"-?\d+(\.\d+)?")


@dataclass
class Suggestion:
    """The proposed mapping, what the sample settled, and what a person must decide."""

    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    sure: list[str] = field(default_factory=list)
    todo: list[str] = field(default_factory=list)

    def yaml(self) -> str:
        head = (
            "# kraft mapping (docs/mapping.md), proposed by `kraft mapping suggest`.\n"
            "# Every TODO needs a person: kraft refuses the mapping until each is decided.\n"
        )
        body = yaml.safe_dump(
            {"tables": self.tables}, sort_keys=False, allow_unicode=True, width=100
        )
        return head + body


def suggest_mapping(paths: list[Path]) -> Suggestion:
    suggestion = Suggestion()
    for sample in read_samples(paths):
        table, why = _table_for(sample)
        if table is None or table.name in suggestion.tables:
            key = _unknown_table(sample, table, suggestion)
            suggestion.tables[key] = {"file": _pattern(sample.path.name)}
            continue
        suggestion.sure.append(f"{table.name} ← {sample.display} ({why})")
        suggestion.tables[table.name] = _entry(sample, table, suggestion)
    return suggestion


def _unknown_table(sample: Sample, table: Table | None, suggestion: Suggestion) -> str:
    if table is None:
        key = f"TODO: which table does {sample.display} feed?"
        suggestion.todo.append(
            f"{sample.display}: no table of the contract matches its name or columns"
        )
    else:
        key = f"TODO: {sample.display} looks like {table.name} too"
        suggestion.todo.append(
            f"{sample.display} also looks like {table.name}; a table has one source (a file "
            "pattern may match several files of the same layout)"
        )
    return key


def _table_for(sample: Sample) -> tuple[Table | None, str]:
    """The contract table the source's name and columns point at."""
    where = normalised(sample.sheet or sample.path.stem)
    scored = []
    for table in TABLES:
        words = (table.name.replace("_", " "), *TABLE_WORDS.get(table.name, ()))
        by_name = any(re.search(rf"\b{re.escape(w)}s?\b", where) for w in words)
        matched = sum(1 for c in table.columns if _source_column(sample, table, c, set()))
        required = sum(1 for c in table.columns if c.required)
        found = sum(
            1 for c in table.columns if c.required and _source_column(sample, table, c, set())
        )
        score = matched + 2 * found + (3 if by_name else 0) - (required - found)
        scored.append((score, by_name, matched, table))
    scored.sort(key=lambda s: s[0], reverse=True)
    best, second = scored[0], scored[1]
    if best[0] <= 1 or best[0] == second[0]:
        return None, ""
    score, by_name, matched, table = best
    how = "by name and " if by_name else "by "
    return table, f"{how}{matched} of its columns"


def _source_column(sample: Sample, table: Table, column: Column, used: set[str]) -> str | None:
    names = column_names(table, column)
    found = [h for h in sample.header if h not in used and normalised(h) in names]
    exact = [h for h in found if normalised(h) == column.name.replace("_", " ")]
    chosen = exact or found
    return chosen[0] if chosen else None


def _pattern(name: str) -> str:
    """The file name, with a date or run number in it as * (the next export's name differs)."""
    return re.sub(r"\d{6,}", "*", name)


def _entry(sample: Sample, table: Table, suggestion: Suggestion) -> dict[str, Any]:
    entry: dict[str, Any] = {"file": _pattern(sample.path.name)}
    if sample.sheet is not None:
        entry["sheet"] = sample.sheet
    if sample.skip_rows:
        entry["skip_rows"] = sample.skip_rows
        suggestion.sure.append(
            f"{sample.display}: {sample.skip_rows} row(s) above the header (skip_rows)"
        )
    if sample.encoding is not None:
        entry["encoding"] = (
            sample.encoding
            if sample.encoding_sure
            else ("TODO: cp1252 or latin-1 (the file is not UTF-8)")
        )
        (suggestion.sure if sample.encoding_sure else suggestion.todo).append(
            f"{sample.display}: encoding {entry['encoding']}"
        )
    columns, used = _columns(sample, table, suggestion)
    entry.update(_formats(sample, table, columns, suggestion))
    entry["columns"] = columns
    rest = [h for h in sample.header if h not in used]
    if rest:
        entry["ignore"] = rest
        suggestion.todo.append(
            f"{sample.display}: column(s) {', '.join(rest)} match no column of {table.name} "
            "and are ignored; map any that holds one"
        )
    return entry


def _columns(
    sample: Sample, table: Table, suggestion: Suggestion
) -> tuple[dict[str, Any], set[str]]:
    columns: dict[str, Any] = {}
    used: set[str] = set()
    for column in table.columns:
        source = _source_column(sample, table, column, used)
        if source is None:
            if column.required:
                columns[column.name] = f"TODO: which column holds {column.name}?"
                suggestion.todo.append(
                    f"{table.name}.{column.name}: no column of {sample.display} is named like it"
                )
            continue
        used.add(source)
        spec: dict[str, Any] = {"from": source}
        if column.type is ColumnType.enum:
            spec.update(_value_map(sample.values[source], column, table, suggestion))
        columns[column.name] = spec if len(spec) > 1 else source
    return columns, used


def _value_map(
    words: list[str], column: Column, table: Table, suggestion: Suggestion
) -> dict[str, Any]:
    distinct = sorted(set(words))
    if len(distinct) > MAX_ENUM_WORDS:
        suggestion.todo.append(
            f"{table.name}.{column.name}: {len(distinct)} different values; map its words by hand"
        )
        return {}
    values: dict[str, str] = {}
    for word in distinct:
        value = enum_value(column, word)
        if value is None:
            values[word] = f"TODO: one of {', '.join(column.enum)}"
            suggestion.todo.append(f"{table.name}.{column.name}: what is {word!r}?")
        elif value != word:
            values[word] = value
    if values:
        return {"values": values}
    return {}


def _formats(
    sample: Sample, table: Table, columns: dict[str, Any], suggestion: Suggestion
) -> dict[str, Any]:
    """Date patterns, number separators and boolean words the sampled values need."""
    formats: dict[str, Any] = {}
    sources = {n: (s["from"] if isinstance(s, dict) else s) for n, s in columns.items()}
    mapped = [
        (table.column(n), sample.values.get(s, []))
        for n, s in sources.items()
        if s in sample.values
    ]
    formats.update(_date_format(mapped, columns, table, suggestion))
    formats.update(_separators(mapped, table, suggestion))
    formats.update(_bool_words(mapped, table, suggestion))
    return formats


def _date_format(
    mapped: list[tuple[Column, list[str]]],
    columns: dict[str, Any],
    table: Table,
    suggestion: Suggestion,
) -> dict[str, Any]:
    dated = [(c, v) for c, v in mapped if c.type is ColumnType.date and needs_pattern(v)]
    for column, values in mapped:
        if column.type is ColumnType.month and needs_pattern(values, month=True):
            _column_date(columns, column, patterns_reading(values, month=True), table, suggestion)
    if not dated:
        return {}
    shared = set(patterns_reading(dated[0][1]))
    for _, values in dated[1:]:
        shared &= set(patterns_reading(values))
    if len(shared) == 1:
        pattern = shared.pop()
        suggestion.sure.append(f"{table.name}: dates read {pattern} (every sampled date)")
        return {"date_format": pattern}
    if shared:
        both = " or ".join(sorted(shared))
        suggestion.todo.append(
            f"{table.name}: every sampled date reads as {both}; say which the export writes"
        )
        return {"date_format": f"TODO: {both} (every sampled date reads both ways)"}
    for column, values in dated:
        _column_date(columns, column, patterns_reading(values), table, suggestion)
    return {}


def _column_date(
    columns: dict[str, Any],
    column: Column,
    patterns: list[str],
    table: Table,
    suggestion: Suggestion,
) -> None:
    spec = columns[column.name]
    spec = dict(spec) if isinstance(spec, dict) else {"from": spec}
    if len(patterns) == 1:
        spec["date_format"] = patterns[0]
        suggestion.sure.append(f"{table.name}.{column.name}: dates read {patterns[0]}")
    elif patterns:
        spec["date_format"] = f"TODO: {' or '.join(patterns)} (every sampled value reads both ways)"
        suggestion.todo.append(f"{table.name}.{column.name}: dates read {' or '.join(patterns)}")
    else:
        spec["date_format"] = (
            "TODO: no pattern reads every sampled value; write the strptime pattern"
        )
        suggestion.todo.append(f"{table.name}.{column.name}: no date pattern reads every value")
    columns[column.name] = spec


def _separators(
    mapped: list[tuple[Column, list[str]]], table: Table, suggestion: Suggestion
) -> dict[str, Any]:
    numbers = [v for c, vs in mapped if c.type in (ColumnType.decimal, ColumnType.int) for v in vs]
    comma_thousands = any(COMMA_THOUSANDS.fullmatch(v) for v in numbers)
    decimal_comma = any(DECIMAL_COMMA.fullmatch(v) or DOT_THOUSANDS.fullmatch(v) for v in numbers)
    if comma_thousands and decimal_comma:
        suggestion.todo.append(f"{table.name}: numbers use both 1,234.5 and 1.234,5")
        return {"decimal_separator": "TODO: . or , (both forms are in the sample)"}
    if comma_thousands:
        suggestion.sure.append(f"{table.name}: numbers group thousands with commas (1,234.50)")
        return {"thousands_separator": ","}
    if decimal_comma:
        suggestion.sure.append(f"{table.name}: numbers write decimals with a comma (1.234,50)")
        return {"decimal_separator": ",", "thousands_separator": "."}
    return {}


def _bool_words(
    mapped: list[tuple[Column, list[str]]], table: Table, suggestion: Suggestion
) -> dict[str, Any]:
    found = {v for c, vs in mapped if c.type is ColumnType.bool for v in vs}
    words = sorted(w for w in found if w.lower() not in CONTRACT_BOOLS)
    if not words:
        return {}
    trues = [w for w in words if w.lower() in TRUE_WORDS]
    falses = [w for w in words if w.lower() in FALSE_WORDS]
    for word in words:
        if word not in trues and word not in falses:
            trues.append(f"TODO: is {word!r} true or false?")
            suggestion.todo.append(f"{table.name}: is {word!r} true or false?")
    suggestion.sure.append(f"{table.name}: booleans written {', '.join(words)}")
    return {"true_words": trues, "false_words": falses}
