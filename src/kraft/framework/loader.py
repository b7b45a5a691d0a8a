"""Load frameworks from YAML, reporting every problem as file, line, field path and fix.

PyYAML's node tree keeps line marks; we build plain data from it ourselves and remember the line of
every path, so that a pydantic error location can be turned back into a line in the file.
"""

from __future__ import annotations

import stat
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from enum import Enum
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from kraft.errors import KraftError
from kraft.framework.model import Framework
from kraft.safe_yaml import SafeLoader, YamlRefusedError, compose, refused_sentence

Path_ = tuple[str | int, ...]

BUILTIN_PACKAGE = "kraft.framework.builtin"
DEFAULT_FRAMEWORK = "insurance_rm"
MAX_FRAMEWORK_BYTES = 1024 * 1024


def builtin_names() -> list[str]:
    """Names of the frameworks shipped inside the package."""
    files = resources.files(BUILTIN_PACKAGE).iterdir()
    return sorted(f.name.removesuffix(".yaml") for f in files if f.name.endswith(".yaml"))


def load_builtin(name: str) -> Framework:
    if name not in builtin_names():
        known = ", ".join(builtin_names())
        raise KraftError(f"There is no built-in framework {name!r}; use one of: {known}.")
    text = resources.files(BUILTIN_PACKAGE).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    return parse_framework(text, source=f"built-in framework {name}")


def load_framework_file(path: Path) -> Framework:
    """A framework file: a regular file (a FIFO would block) of at most 1 MB."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise KraftError(f"{path} is not a regular file; give the path to a .yaml file.")
        if info.st_size > MAX_FRAMEWORK_BYTES:
            raise KraftError(f"{path} is over 1 MB, which no framework needs; check the path.")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KraftError(f"{path}: no such file; check the path.") from None
    except UnicodeDecodeError:
        raise KraftError(f"{path} is not UTF-8 text; save it as UTF-8 and try again.") from None
    except OSError as exc:
        raise KraftError(f"{path} cannot be read ({exc.strerror}).") from None
    return parse_framework(text, source=str(path))


def resolve_framework(reference: str, base_dir: Path | None = None) -> Framework:
    """A framework by built-in name or by path (relative paths are taken from `base_dir`)."""
    if reference in builtin_names():
        return load_builtin(reference)
    path = Path(reference)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if path.suffix not in {".yaml", ".yml"} and not path.exists():
        known = ", ".join(builtin_names())
        raise KraftError(
            f"Framework {reference!r} is neither a built-in ({known}) nor a YAML file; "
            "give a built-in name or the path to a .yaml file."
        )
    return load_framework_file(path)


def parse_framework(text: str, *, source: str) -> Framework:
    data, lines = _compose(text, source)
    if not isinstance(data, dict):
        raise KraftError(
            f"{source} line 1: a framework file must be a YAML mapping with keys such as "
            "id, role, title and kras; see docs/framework-format.md."
        )
    try:
        return Framework.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(err, data, lines) for err in _root_causes(exc.errors())]
        count = f"{len(problems)} problem" + ("s" if len(problems) != 1 else "")
        raise KraftError(
            f"{source} is not a valid framework ({count}):", details=problems
        ) from None


def _root_causes(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """Drop a tuple's 'too short' error that only echoes a failing item inside it."""
    locs = [tuple(e["loc"]) for e in errors]

    def echoes(error: ErrorDetails) -> bool:
        loc = tuple(error["loc"])
        return error["type"] == "too_short" and any(
            len(other) > len(loc) and other[: len(loc)] == loc for other in locs
        )

    return [e for e in errors if not echoes(e)]


def _compose(text: str, source: str) -> tuple[Any, dict[Path_, int]]:
    try:
        node = compose(text)
    except YamlRefusedError as exc:
        raise KraftError(refused_sentence(source, exc)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or "unreadable YAML"
        raise KraftError(
            f"{source}{where}: YAML syntax error: {problem}; check the indentation and quoting "
            "there (quote text that contains ': ' or starts with a special character)."
        ) from None
    except yaml.YAMLError as exc:
        raise KraftError(f"{source}: YAML syntax error: {exc}.") from None
    if node is None:
        raise KraftError(f"{source} is empty; a framework needs at least id, role, title and kras.")
    lines: dict[Path_, int] = {}
    constructor = SafeLoader("")
    return _build(node, (), lines, constructor, source), lines


def _build(
    node: yaml.Node,
    path: Path_,
    lines: dict[Path_, int],
    constructor: SafeLoader,
    source: str,
) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(constructor.construct_object(key_node, deep=True))
            if key in result:
                raise KraftError(
                    f"{source} line {key_node.start_mark.line + 1}: the key {key!r} appears twice "
                    f"in {_format_path(path, None) or 'the top level'}; keep one of them."
                )
            result[key] = _build(value_node, (*path, key), lines, constructor, source)
            lines[(*path, key)] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, (*path, index), lines, constructor, source)
            for index, item in enumerate(node.value)
        ]
    if node.tag == "tag:yaml.org,2002:float":
        try:
            return Decimal(node.value.replace("_", ""))  # exact: 33.333333333333333334
        except InvalidOperation:
            pass  # .inf, .nan: let the model refuse them
    return constructor.construct_object(node, deep=True)


_FIXES = {
    "missing": "add it",
    "extra_forbidden": "remove it or correct its spelling (see docs/framework-format.md)",
    "decimal_parsing": "write a plain number such as 85 or 1500000",
    "decimal_type": "write a plain number such as 85 or 1500000",
    "int_parsing": "write a whole number",
    "int_type": "write a whole number",
    "string_type": "write text (quote it if it looks like a number or a date)",
    "string_pattern_mismatch": "use lower_snake_case (letters, digits and _)",
    "enum": "use one of the values listed",
    "literal_error": "use one of the values listed",
    "too_short": "give at least one entry",
    "greater_than_equal": "use a value that is not negative",
    "greater_than": "use a larger value",
    "list_type": "write a list (lines starting with '- ')",
    "tuple_type": "write a list (lines starting with '- ')",
    "model_type": "write a mapping of field: value lines",
    "dict_type": "write a mapping of field: value lines",
}


def _describe(error: ErrorDetails, data: Any, lines: dict[Path_, int]) -> str:
    loc: Path_ = tuple(error["loc"])
    line = _nearest_line(loc, lines)
    field = _format_path(loc, data) or "(top level)"
    fix = _FIXES.get(error["type"], "correct the value")
    message = error["msg"].rstrip(".")
    return f"line {line}, field {field}: {message}; {fix}."


def _nearest_line(loc: Path_, lines: dict[Path_, int]) -> int:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


def _format_path(loc: Iterable[str | int], data: Any) -> str:
    """kras.sales_revenue.kpis.revenue_per_quarter.target: ids where the list item has one."""
    parts: list[str] = []
    node = data
    for step in loc:
        if isinstance(step, int):
            item = node[step] if isinstance(node, list) and step < len(node) else None
            item_id = item.get("id") if isinstance(item, dict) else None
            parts.append(str(item_id) if isinstance(item_id, str) else f"[{step}]")
            node = item
        else:
            parts.append(step)
            node = node.get(step) if isinstance(node, dict) else None
    return ".".join(parts).replace(".[", "[")


class _FrameworkDumper(yaml.SafeDumper):
    """Writes Decimals as plain numbers and enums as their values."""


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    text = format(value.normalize(), "f") if value == value.to_integral_value() else str(value)
    tag = "tag:yaml.org,2002:int" if "." not in text else "tag:yaml.org,2002:float"
    return dumper.represent_scalar(tag, text)


_FrameworkDumper.add_representer(Decimal, _represent_decimal)


def dump_framework(framework: Framework) -> str:
    """The framework as YAML that `parse_framework` reads back to an equal framework."""
    data = framework.model_dump(mode="python", exclude_defaults=True)
    data = _plain(data)
    data = {"id": data.pop("id"), **data}
    return yaml.dump(data, Dumper=_FrameworkDumper, sort_keys=False, allow_unicode=True, width=100)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    return value
