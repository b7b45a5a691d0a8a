"""The contract's tolerance of how exports write values (DATA.md "File rules"), as SQL.

A decimal may carry any number of places: it is stored to DECIMAL_PLACES, rounded half to even
from its digits as written (never through a float), and the import summary counts the values
whose stored number differs from the written one. An enum value matches whatever its case and
with spaces or hyphens for underscores, and is staged as the contract writes it. A float from a
typed file (Parquet) is read as its shortest round-trip text, so 27124.204514302906 is rounded
like the same text in a CSV.
"""

from __future__ import annotations

from kraft.schema.tables import Column
from kraft.store.metadata import DECIMAL_PLACES

STEP = f"0.{'0' * (DECIMAL_PLACES - 1)}1"  # one unit in the last stored place


def _places(value: str) -> str:
    """SQL: the digits after the decimal point ('' when there are none)."""
    return f"regexp_extract({value}, '\\.(\\d*)$', 1)"


def decimal_value(value: str) -> str:
    """SQL: a decimal text as DECIMAL(38, DECIMAL_PLACES), rounded half to even; null (never an
    error: DuckDB evaluates every side of an AND) when the text is not a number."""
    places = _places(value)
    whole = f"regexp_extract({value}, '^-?\\d+', 0)"
    kept = f"left({places}, {DECIMAL_PLACES})"
    rest = f"substr({places}, {DECIMAL_PLACES + 1})"
    truncated = f"TRY_CAST({whole} || '.' || {kept} AS DECIMAL(38, {DECIMAL_PLACES}))"
    odd = f"right({kept}, 1) IN ('1', '3', '5', '7', '9')"
    up = (
        f"left({rest}, 1) > '5' OR (left({rest}, 1) = '5' AND "
        f"(regexp_matches(substr({rest}, 2), '[1-9]') OR {odd}))"
    )
    away = f"CASE WHEN starts_with({value}, '-') THEN -{STEP} ELSE {STEP} END"
    return (
        f"CASE WHEN length({places}) <= {DECIMAL_PLACES} "
        f"THEN TRY_CAST({value} AS DECIMAL(38, {DECIMAL_PLACES})) "
        f"WHEN {up} THEN CAST({truncated} + {away} AS DECIMAL(38, {DECIMAL_PLACES})) "
        f"ELSE {truncated} END"
    )


def rounded(value: str) -> str:
    """SQL condition: the value has a non-zero digit past the places kept (storing changes it)."""
    return f"regexp_matches(substr({_places(value)}, {DECIMAL_PLACES + 1}), '[1-9]')"


def enum_value(column: Column, value: str) -> str:
    """SQL: the contract's spelling of an enum value written in another case or with spaces or
    hyphens for underscores; a value that matches nothing is kept as written for its message."""
    spelled = f"regexp_replace(lower({value}), '[ -]', '_', 'g')"
    values = ", ".join("'" + v.replace("'", "''") + "'" for v in column.enum)
    return f"CASE WHEN {spelled} IN ({values}) THEN {spelled} ELSE {value} END"


def float_text(value: str) -> str:
    """SQL: a DOUBLE as plain decimal text with the digits of its shortest round-trip form.

    DuckDB writes that form, with an exponent for very small or large numbers (1e-07, 1.5e+20);
    the exponent is moved into the digits so that the text reads as a contract decimal. NaN and
    infinity stay as words, which validation refuses as not a number.
    """
    text = f"CAST({value} AS VARCHAR)"
    mantissa = f"split_part({text}, 'e', 1)"
    exponent = f"CAST(split_part({text}, 'e', 2) AS INTEGER)"
    sign = f"CASE WHEN starts_with({text}, '-') THEN '-' ELSE '' END"
    unsigned = f"ltrim({mantissa}, '-')"
    digits = f"replace({unsigned}, '.', '')"
    point = f"(strpos({unsigned} || '.', '.') - 1 + {exponent})"  # digits before the point
    plain = (
        f"CASE WHEN {point} <= 0 THEN '0.' || repeat('0', -{point}) || {digits} "
        f"WHEN {point} >= length({digits}) THEN {digits} || repeat('0', {point} - length({digits})) "
        f"ELSE left({digits}, {point}) || '.' || substr({digits}, {point} + 1) END"
    )
    return f"CASE WHEN contains({text}, 'e') THEN {sign} || {plain} ELSE {text} END"
