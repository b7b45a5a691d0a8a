"""Framework versions: check an edited framework as `kraft framework validate` does, and save it
as a new version of the workspace's framework, audited, all or nothing.

A version in use is never edited in place: a save is a new version in a new file beside the
current one, then kraft.toml's `framework` points at it; the old file stays for the scores
computed with it. An edit made on an older version is refused (its base is stale), so that two
admins cannot overwrite each other.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from kraft.core.context import Kraft
from kraft.core.settings_change import SettingChange, change_setting, workspace_reference
from kraft.errors import ConflictError, InvalidInputError, KraftError, StaleVersionError
from kraft.framework.loader import BUILTIN_PACKAGE, builtin_names, parse_framework
from kraft.framework.model import Framework
from kraft.framework.smart import Finding, Severity, validate
from kraft.scoring.stored import as_of_date
from kraft.scoring.target_table import comparable_actuals

EDITED = "The edited framework"  # how parse errors name the text


@dataclass(frozen=True)
class CurrentFramework:
    """The workspace's framework as kraft.toml names it now, with its text."""

    reference: str  # kraft.toml's `framework`: a built-in name or a file path
    path: Path | None  # None for a built-in
    text: str
    framework: Framework

    @property
    def base(self) -> str:
        """What an edit was made on: a stale edit carries another one."""
        return hashlib.sha256(f"{self.reference}\n{self.text}".encode()).hexdigest()


@dataclass
class FrameworkCheck:
    """What checking (and saving) an edited framework found: the parse or lint problems, the
    warnings, or where it was saved."""

    framework: Framework | None = None  # None: the text is not a framework
    problems: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    saved: Framework | None = None
    saved_file: str = ""
    message: str = ""

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.error]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.warning]


class FrameworkRejectedError(InvalidInputError):
    """The edited framework does not load or breaks a SMART or structure rule: nothing saved."""

    def __init__(self, check: FrameworkCheck) -> None:
        details = check.problems or [f"{f.where}: {f.problem} {f.fix}" for f in check.errors]
        super().__init__(check.message, details=details)
        self.check = check


def current_framework(kraft: Kraft) -> CurrentFramework:
    reference = kraft.settings.framework
    if reference in builtin_names():
        resource = resources.files(BUILTIN_PACKAGE).joinpath(f"{reference}.yaml")
        return CurrentFramework(reference, None, resource.read_text("utf-8"), kraft.framework)
    path = Path(reference)
    if not path.is_absolute():
        path = kraft.workspace.root / path
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KraftError(f"The workspace's framework file {path} cannot be read ({exc}).") from None
    return CurrentFramework(reference, path, text, kraft.framework)


def next_version(version: str) -> str:
    """2 → 3, 1.4 → 1.5, draft → draft.2: the trailing number counts up."""
    found = re.fullmatch(r"(.*?)(\d+)", version)
    if found:
        return f"{found[1]}{int(found[2]) + 1}"
    return f"{version}.2"


def _with_version(text: str, version: str) -> str:
    """The YAML text with its top-level version set (the line kept where it is)."""
    line = f'version: "{version}"'
    if re.search(r"^version:.*$", text, flags=re.MULTILINE):
        return re.sub(r"^version:.*$", line, text, count=1, flags=re.MULTILINE)
    if re.search(r"^id:.*$", text, flags=re.MULTILINE):
        return re.sub(r"^(id:.*)$", rf"\1\n{line}", text, count=1, flags=re.MULTILINE)
    return f"{line}\n{text}"


def _file_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "x"


def check_framework(kraft: Kraft, text: str) -> FrameworkCheck:
    """Load the text as a framework and lint it, as `kraft framework validate` does."""
    check = FrameworkCheck()
    try:
        check.framework = parse_framework(text, source=EDITED)
    except KraftError as exc:
        check.message = exc.message
        check.problems = exc.details
        return check
    with kraft.db.connect() as conn:
        as_of = as_of_date(conn)
        actuals = (
            comparable_actuals(conn, check.framework, kraft.calendar, as_of)
            if as_of is not None
            else None
        )
    check.findings = validate(
        check.framework, known_metrics=kraft.catalogue.kpi_ids(), recent_actuals=actuals
    )
    if check.errors:
        check.message = (
            f"The framework has {len(check.errors)} SMART or structure error(s); nothing was "
            "saved. Fix them and save again."
        )
    return check


def save_framework_version(
    kraft: Kraft, text: str, *, actor: str, base: str | None = None
) -> FrameworkCheck:
    """Check the edited text and save it as the workspace's new framework version. `base` is
    the CurrentFramework.base the edit was made on (None: the current one). Refuses a stale base
    and a framework that fails the check; a text equal to the current version saves nothing."""
    text = text.replace("\r\n", "\n")
    current = current_framework(kraft)
    if base is not None and base != current.base:
        raise StaleVersionError(
            f"The framework was changed by someone else since you opened it (it is now version "
            f"{current.framework.version}); your text is kept: compare it with the current "
            "one, then save again."
        )
    check = check_framework(kraft, text)
    if check.framework is None or check.errors:
        raise FrameworkRejectedError(check)
    edited = check.framework
    if edited.model_copy(update={"version": current.framework.version}) == current.framework:
        check.message = "Nothing changed: the framework is the same as the current version."
        return check
    check.saved, check.saved_file = _save(kraft, current, edited, text, actor)
    check.message = (
        f"Saved {check.saved.id} version {check.saved.version} as {check.saved_file}; the "
        "workspace uses it now. Compute to score every RM with it."
    )
    return check


def _new_file(kraft: Kraft, current: CurrentFramework, framework: Framework) -> tuple[Path, str]:
    """The file of the new version and its version: the edited one, or the next free number."""
    version = framework.version
    if version == current.framework.version:
        version = next_version(current.framework.version)
    folder = current.path.parent if current.path is not None else kraft.workspace.root
    while True:
        path = folder / f"{_file_part(framework.id)}-v{_file_part(version)}.yaml"
        if not path.exists():
            return path, version
        if version == framework.version:
            raise ConflictError(
                f"Version {version} of {framework.id} already has a file ({path.name}); give "
                "the new version another number, or leave the version as it is for kraft to "
                "count on."
            )
        version = next_version(version)  # a version kraft chose: count on


def _save(
    kraft: Kraft, current: CurrentFramework, framework: Framework, text: str, actor: str
) -> tuple[Framework, str]:
    """Write the framework as a new version in a new file, point kraft.toml at it, and audit
    it, all or nothing. Returns the saved framework and kraft.toml's new reference."""
    path, version = _new_file(kraft, current, framework)
    new_text = _with_version(text, version)
    saved = parse_framework(new_text, source=EDITED)
    if saved.version != version or saved.model_copy(update={"version": framework.version}) != (
        framework
    ):
        raise InvalidInputError(
            "The framework's version line could not be set; write version: as a top line."
        )
    reference = workspace_reference(kraft, path)
    change = SettingChange(
        name="framework",
        value=reference,
        action="framework.save",
        object_type="framework",
        object_id=saved.id,
        old={"version": current.framework.version, "file": current.reference},
        new={
            "version": saved.version,
            "file": reference,
            "sha256": hashlib.sha256(new_text.encode()).hexdigest(),
        },
    )
    with path.open("x", encoding="utf-8") as handle:  # never over another version's file
        handle.write(new_text)
    try:
        change_setting(kraft, change, actor=actor)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return saved, reference
