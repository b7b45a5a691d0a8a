"""`kraft review …`: the review cycle of an RM's period from the command line, acting as a kraft
user (`--as EMAIL`: the same rules as on the web, kraft.scoring.review); `kraft calibration`:
the period's rating distribution by manager and team, computed and final."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated

import typer
from sqlalchemy.engine import Connection

from kraft.commands.common import (
    TextOrJson,
    actor,
    calendar_of,
    kraft_of,
    open_database,
    out,
    parse_period,
    say,
    workspace_framework,
    workspace_of,
)
from kraft.commands.tables import Column, WideOption, table_of
from kraft.core.access import scope_acting_as
from kraft.core.reviews import StepInput, take_review_step
from kraft.core.settling import open_claims_note, settling_of
from kraft.errors import KraftError
from kraft.framework.model import Framework
from kraft.reports.values import stored_figure
from kraft.scoring import calibration as cal
from kraft.scoring import review as rv
from kraft.store.users import User, find_by_email

RmOption = Annotated[str, typer.Option("--rm", help="The RM reviewed (an rm_id).")]
PeriodOption = Annotated[str, typer.Option("--period", help="The period reviewed, e.g. 2025-Q4.")]
AsOption = Annotated[
    str, typer.Option("--as", help="The kraft user taking the step (their email).")
]
VersionOption = Annotated[
    int | None,
    typer.Option("--version", help="The review's version you read (refused if it changed)."),
]
ConfirmOption = Annotated[
    bool,
    typer.Option(
        "--confirm-provisional",
        help="Confirm that the period's values may still change (the period is open, or ended "
        "within the longest grace window before the data's as-of date); recorded on the review "
        "and in the audit log. Refused without it for such a period.",
    ),
]


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="The review cycle: a manager reviews an RM's scorecard, the RM self-assesses and "
        "acknowledges, the sign-off freezes it.",
        no_args_is_help=True,
    )
    group.command("start")(start)
    group.command("comment")(comment)
    group.command("adjust")(adjust)
    group.command("submit")(submit)
    group.command("self-assess")(self_assess)
    group.command("acknowledge")(acknowledge)
    group.command("sign-off")(sign_off)
    group.command("reopen")(reopen)
    group.command("show")(show)
    group.command("diff")(diff)
    group.command("list")(list_reviews)
    app.add_typer(group, name="review")
    app.command("calibration")(calibration)


def _user(conn: Connection, email: str) -> User:
    user = find_by_email(conn, email)
    if user is None:
        raise KraftError(f"--as {email} is not a kraft user; `kraft users list` shows them.")
    if not user.active:
        raise KraftError(f"--as {email} is disabled; an admin enables the user first.")
    return user


def _label(ctx: typer.Context, period: str) -> str:
    return parse_period(calendar_of(workspace_of(ctx)), period, "--period").label


def _step(
    ctx: typer.Context,
    step: rv.Step,
    rm: str,
    period: str,
    email: str,
    *,
    text: str | None = None,
    rating: int | None = None,
    version: int | None = None,
    confirmed: bool = False,
) -> None:
    kraft = kraft_of(ctx)
    framework = kraft.framework
    label = _label(ctx, period)
    with kraft.db.connect() as conn:
        scope = scope_acting_as(conn, email, actor())
    if step is not rv.Step.start and version is None:  # the operator acts on the review as it is
        with kraft.db.connect() as conn:
            current = rv.get_review(conn, rm, label)
        version = current.version if current is not None else None
    given = StepInput(text, rating, version, confirmed=confirmed)
    found = take_review_step(kraft, scope, rm, label, step, given)
    out.print(
        f"Review of {found.rm_id} for {found.period}: {found.state.words} "
        f"(version {found.version}{_final(found, framework)})."
    )
    said = found.start_confirmation if step is rv.Step.start else found.sign_off_confirmation
    if said and step in (rv.Step.start, rv.Step.sign_off):
        out.print(f"Recorded with the review and in the audit log: {said}")


def _final(review: rv.Review, framework: Framework) -> str:
    if review.final_rating is None:
        return ""
    return f"; final rating {_rating(review.final_rating, framework)}"


def _rating(rating: int | None, framework: Framework) -> str:
    if rating is None:
        return "—"
    labels = {b.rating: b.label for b in framework.rating_bands}
    return f"{rating} {labels.get(rating, '')}".strip()


def start(
    ctx: typer.Context,
    rm: RmOption,
    period: PeriodOption,
    email: AsOption,
    confirm_provisional: ConfirmOption = False,
) -> None:
    """Open the review of the RM's scored period (a manager of the RM's team, or an admin)."""
    _step(ctx, rv.Step.start, rm, period, email, confirmed=confirm_provisional)


def comment(
    ctx: typer.Context,
    rm: RmOption,
    period: PeriodOption,
    email: AsOption,
    text: Annotated[str, typer.Option("--text", help="The manager's comments.")],
    version: VersionOption = None,
) -> None:
    """Write the manager's comments (while the review is in draft)."""
    _step(ctx, rv.Step.comment, rm, period, email, text=text, version=version)


def adjust(
    ctx: typer.Context,
    rm: RmOption,
    period: PeriodOption,
    email: AsOption,
    rating: Annotated[
        str, typer.Option("--rating", help="The rating given (1–5), or none for the computed one.")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why (mandatory).")],
    version: VersionOption = None,
) -> None:
    """Adjust the rating, with a reason (while the review is in draft)."""
    chosen: int | None
    if rating.strip().lower() == "none":
        chosen = None
    else:
        try:
            chosen = int(rating)
        except ValueError:
            raise KraftError(
                f"--rating {rating!r} is not a rating; give a number such as 4, or none."
            ) from None
    _step(ctx, rv.Step.adjust, rm, period, email, text=reason, rating=chosen, version=version)


def submit(
    ctx: typer.Context,
    rm: RmOption,
    period: PeriodOption,
    email: AsOption,
    version: VersionOption = None,
) -> None:
    """Hand the manager's review to the RM."""
    _step(ctx, rv.Step.submit, rm, period, email, version=version)


def self_assess(
    ctx: typer.Context,
    rm: RmOption,
    period: PeriodOption,
    email: AsOption,
    text: Annotated[str, typer.Option("--text", help="The RM's self-assessment.")],
    version: VersionOption = None,
) -> None:
    """Write the RM's self-assessment (the RM rated, after the manager's review)."""
    _step(ctx, rv.Step.self_assess, rm, period, email, text=text, version=version)


def acknowledge(
    ctx: typer.Context,
    rm: RmOption,
    period: PeriodOption,
    email: AsOption,
    version: VersionOption = None,
) -> None:
    """The RM acknowledges the review (after their self-assessment)."""
    _step(ctx, rv.Step.acknowledge, rm, period, email, version=version)


def sign_off(
    ctx: typer.Context,
    rm: RmOption,
    period: PeriodOption,
    email: AsOption,
    version: VersionOption = None,
    confirm_provisional: ConfirmOption = False,
) -> None:
    """Sign the review off: the scorecard as stored now is frozen in a snapshot."""
    _step(ctx, rv.Step.sign_off, rm, period, email, version=version, confirmed=confirm_provisional)


def reopen(
    ctx: typer.Context,
    rm: RmOption,
    period: PeriodOption,
    email: AsOption,
    reason: Annotated[str, typer.Option("--reason", help="Why (mandatory).")],
    version: VersionOption = None,
) -> None:
    """Send a review back to draft (an admin, with a reason)."""
    _step(ctx, rv.Step.reopen, rm, period, email, text=reason, version=version)


def _found(conn: Connection, rm: str, label: str) -> rv.Review:
    found = rv.get_review(conn, rm, label)
    if found is None:
        raise KraftError(
            f"{rm} has no review for {label}; a manager starts it with "
            f"`kraft review start --rm {rm} --period {label} --as EMAIL`."
        )
    return found


def show(ctx: typer.Context, rm: RmOption, period: PeriodOption) -> None:
    """The review: state, ratings, comments, self-assessment, who did what when, and the
    changes since sign-off."""
    workspace = workspace_of(ctx)
    framework = workspace_framework(workspace)
    label = _label(ctx, period)
    db = open_database(workspace, read_only=True)
    with db.connect() as conn:
        found = _found(conn, rm, label)
        changes = rv.changes_since_sign_off(conn, framework, found)
        note = open_claims_note(conn, framework, settling_of(workspace.settings), rm, label)
    out.print(f"Review of {found.rm_id} for {found.period} (version {found.version})")
    out.print(f"State: {found.state.words}")
    out.print(f"Computed rating: {_rating(found.computed_rating, framework)}")
    if found.adjusted_rating is not None or found.adjustment_reason:
        out.print(
            f"Adjusted rating: {_rating(found.adjusted_rating, framework)} by "
            f"{found.adjusted_by}: {found.adjustment_reason}"
        )
    out.print(f"Final rating: {_rating(found.final_rating, framework)}")
    for title, text in (
        ("Manager's comments", found.manager_comments),
        ("Self-assessment", found.self_assessment),
        ("Reopened because", found.reopen_reason),
        ("Started on values that may change", found.start_confirmation),
        ("Signed off on values that may change", found.sign_off_confirmation),
    ):
        if text:
            out.print(f"{title}: {text}")
    for what, who, when in (
        ("started", found.started_by, found.started_at),
        ("reviewed", found.reviewed_by, found.reviewed_at),
        ("self-assessed", found.self_assessed_by, found.self_assessed_at),
        ("acknowledged", found.acknowledged_by, found.acknowledged_at),
        ("signed off", found.signed_off_by, found.signed_off_at),
        ("reopened", found.reopened_by, found.reopened_at),
    ):
        if who and when:
            out.print(f"  {what} by {who} at {when:%Y-%m-%d %H:%M} UTC")
    if note and found.state is not rv.State.signed_off:
        out.print(f"Note: {note}")
    if changes is not None:
        _print_changes(changes, framework)


def _print_changes(changes: list[rv.Change], framework: Framework) -> None:
    if not changes:
        out.print("No data changed since sign-off.")
        return
    out.print(f"Data changed since sign-off ({len(changes)} figure(s)):")
    table = table_of(["item", "field", "signed", "now"])
    for c in changes:
        signed, now = (stored_figure(framework, c.item, c.field, v) for v in (c.signed, c.now))
        table.add_row(c.item, c.field, signed, now)
    out.print(table)


def diff(ctx: typer.Context, rm: RmOption, period: PeriodOption) -> None:
    """What differs between the signed snapshot and the scorecard stored now."""
    workspace = workspace_of(ctx)
    framework = workspace_framework(workspace)
    label = _label(ctx, period)
    db = open_database(workspace, read_only=True)
    with db.connect() as conn:
        found = _found(conn, rm, label)
        changes = rv.changes_since_sign_off(conn, framework, found)
    if changes is None:
        raise KraftError(
            f"The review of {rm} for {label} is not signed off ({found.state.words}); there is "
            "no snapshot to compare yet."
        )
    _print_changes(changes, framework)


def list_reviews(
    ctx: typer.Context,
    period: Annotated[str | None, typer.Option("--period", help="Only this period.")] = None,
    state: Annotated[
        str | None,
        typer.Option("--state", help="Only this state: " + ", ".join(s.value for s in rv.State)),
    ] = None,
) -> None:
    """The reviews: RM, period, state, computed and final rating, version."""
    workspace = workspace_of(ctx)
    framework = workspace_framework(workspace)
    label = _label(ctx, period) if period else None
    chosen = None
    if state is not None:
        try:
            chosen = rv.State(state)
        except ValueError:
            raise KraftError(
                f"--state {state!r} is not a state; use one of "
                + ", ".join(s.value for s in rv.State)
                + "."
            ) from None
    db = open_database(workspace, read_only=True)
    with db.connect() as conn:
        found = rv.list_reviews(conn, period=label, state=chosen)
    table = table_of(["rm_id", "period", "state", "computed", "final", "version"])
    for r in found:
        table.add_row(
            r.rm_id,
            r.period,
            str(r.state),
            _rating(r.computed_rating, framework),
            _rating(r.final_rating, framework),
            str(r.version),
        )
    out.print(table)
    out.print(f"{len(found)} review(s).")


def calibration(
    ctx: typer.Context,
    period: Annotated[
        str | None,
        typer.Option(help="Period label (default: the latest closed quarter with ratings)."),
    ] = None,
    target_distribution: Annotated[
        str | None,
        typer.Option(
            "--target-distribution",
            help="Percent of RMs per rating, highest first, e.g. 10,20,40,20,10 (off by "
            "default: never forced, only compared).",
        ),
    ] = None,
    flag_gap: Annotated[
        float,
        typer.Option(
            "--flag-gap",
            help="Flag a manager whose RMs' mean score gap is at least this many points.",
        ),
    ] = float(cal.DEFAULT_GAP_THRESHOLD),
    fmt: Annotated[TextOrJson, typer.Option("--format", help="text or json.")] = TextOrJson.text,
    wide: WideOption = False,
) -> None:
    """The period's ratings by manager and by team, computed and final; managers whose final
    ratings sit far from their RMs' computed scores are flagged."""
    workspace = workspace_of(ctx)
    framework = workspace_framework(workspace)
    target = (
        cal.parse_target_distribution(target_distribution, framework)
        if target_distribution is not None
        else None
    )
    if flag_gap <= 0:
        raise KraftError(f"--flag-gap {flag_gap} must be more than 0 (score points).")
    db = open_database(workspace, read_only=True)
    with db.connect() as conn:
        label = (
            _label(ctx, period)
            if period
            else cal.latest_scored_period(conn, calendar_of(workspace))
        )
        if label is None:
            raise KraftError("There are no scores yet; run `kraft compute` first.")
        result = cal.calibrate(
            conn, framework, label, target=target, gap_threshold=Decimal(repr(flag_gap))
        )
    if fmt is TextOrJson.json:
        out.print(json.dumps(result.public(), indent=1), soft_wrap=True)
        return
    print_calibration(result, wide)


def _distribution(counts: dict[int, int], bands: list[tuple[int, str]]) -> str:
    return " ".join(f"{r}:{counts.get(r, 0)}" for r, _ in bands)


def _points(value: Decimal | None, places: int = 2) -> str:
    return "—" if value is None else f"{value:+.{places}f}"


# A manager's or team's row; on a narrow terminal the count adjusted goes first, then the shift.
GROUP_COLUMNS = (
    Column("RMs", numeric=True),
    "computed",
    "final",
    Column("adjusted", numeric=True, spare=2),
    Column("mean shift", numeric=True, spare=1),
    Column("mean score gap", numeric=True),
    "flag",
)


def print_calibration(result: cal.Calibration, wide: bool) -> None:
    total = result.total
    out.print(
        f"Calibration of {result.period}: {total.rms} RM(s) rated"
        + (f", {result.not_rated} not rated" if result.not_rated else "")
        + f"; {total.adjusted} adjusted, {total.signed_off} signed off."
    )
    bands = table_of(["rating", "computed", "final", *(["target", "gap"] if result.target else [])])
    gaps = {g.rating: g for g in result.target or []}
    for rating, label in result.bands:
        row = [
            f"{rating} {label}",
            _count_percent(total.computed.get(rating, 0), total.rms),
            _count_percent(total.final.get(rating, 0), total.rms),
        ]
        if rating in gaps:
            gap = gaps[rating]
            row += [
                f"{gap.target_percent}% ({gap.target_rms:.1f})",
                f"{gap.gap_rms:+.1f} RMs ({gap.gap_percent:+.1f} pp)",
            ]
        bands.add_row(*row)
    out.print(bands)
    say("Distributions below are rating:RMs, highest rating first.")
    for title, groups in (("By manager", result.by_manager), ("By team", result.by_team)):
        table = table_of([title.split()[1], *GROUP_COLUMNS], wide=wide)
        for g in groups:
            table.add_row(
                f"{g.group_id or '—'} {g.name or ''}".strip(),
                str(g.rms),
                _distribution(g.computed, result.bands),
                _distribution(g.final, result.bands),
                str(g.adjusted),
                _points(g.mean_shift),
                _points(g.mean_gap),
                "far from the scores" if g.flagged else "",
            )
        out.print(f"{title}:")
        out.print(table)
    say(
        "Score gap: overall-score points between an RM's computed score and the band of their "
        "final rating (+ more generous, − harsher); a manager is flagged at a mean of "
        f"±{result.gap_threshold} or more."
    )


def _count_percent(count: int, total: int) -> str:
    if not total:
        return "0"
    return f"{count} ({Decimal(count) * 100 / total:.1f}%)"
