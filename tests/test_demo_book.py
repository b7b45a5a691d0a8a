"""The demo book: determinism, the contract's shape and rules, and the planted distributions."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from kraft.demo.book.arrow import ARROW_TYPES
from kraft.demo.book.constants import GRACE_DAYS, INITIATIVE_ID, RENEWAL_UPLIFT
from kraft.demo.book.generate import generate_book
from kraft.periods import Calendar
from kraft.schema.tables import TABLES, DateOrder, NoCycle, RequiredWhen, ScoreWithinScale, table

START = date(2024, 1, 1)
MONTHS = 12
AS_OF = date(2024, 12, 31)
EPOCH = date(1970, 1, 1)
Book = dict[str, Any]


@pytest.fixture(scope="module")
def book() -> Book:
    return generate_book(rms=40, months=MONTHS, seed=7, start=START)


@pytest.fixture(scope="module")
def big_book() -> Book:
    return generate_book(rms=200, months=24, seed=11)


def days(column: Any) -> np.ndarray:
    """A date32 column as int day numbers; nulls as -1."""
    return column.cast(pa.int32()).fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def day(d: date) -> int:
    return (d - EPOCH).days


def col(t: Any, name: str) -> np.ndarray:
    return t.column(name).to_numpy(zero_copy_only=False)


def test_same_seed_same_book_other_seed_other_book(book: Book) -> None:
    again = generate_book(rms=40, months=MONTHS, seed=7, start=START)
    assert list(again) == list(book)
    for name, t in book.items():
        assert again[name].equals(t), name
    other = generate_book(rms=40, months=MONTHS, seed=8, start=START)
    assert not other["policies"].equals(book["policies"])
    assert not other["relationship_managers"].equals(book["relationship_managers"])


def test_every_contract_table_with_its_columns_in_order_and_types(book: Book) -> None:
    assert list(book) == [t.name for t in TABLES]
    for spec in TABLES:
        t = book[spec.name]
        assert tuple(t.column_names) == spec.column_names, spec.name
        for c in spec.columns:
            assert t.schema.field(c.name).type == ARROW_TYPES[c.type], (spec.name, c.name)
        assert t.num_rows > 0, spec.name


def test_required_enums_ranges_keys(book: Book) -> None:
    for spec in TABLES:
        t = book[spec.name]
        for c in spec.columns:
            values = t.column(c.name)
            if c.required:
                assert values.null_count == 0, (spec.name, c.name)
            if c.enum:
                present = pc.drop_null(values).unique().to_pylist()
                assert set(present) <= set(c.enum), (spec.name, c.name, present)
            if c.min is not None:
                assert pc.min(values).as_py() >= float(c.min), (spec.name, c.name)
            if c.max is not None:
                assert pc.max(values).as_py() <= float(c.max), (spec.name, c.name)
            if c.unique:
                present = pc.drop_null(values)
                assert len(present.unique()) == len(present), (spec.name, c.name)
        keys = t.select(list(spec.key)).group_by(list(spec.key)).aggregate([])
        assert keys.num_rows == t.num_rows, spec.name


def test_references_resolve(book: Book) -> None:
    for spec in TABLES:
        for c in spec.columns:
            if c.ref is None:
                continue
            target = table(c.ref)
            keys = book[c.ref].column(target.key[0])
            values = pc.drop_null(book[spec.name].column(c.name))
            assert pc.all(pc.is_in(values, value_set=keys)).as_py() is not False, (
                spec.name,
                c.name,
            )


def test_checks_of_the_contract(book: Book) -> None:
    for spec in TABLES:
        t = book[spec.name]
        for check in spec.checks:
            if isinstance(check, DateOrder):
                later, earlier = days(t.column(check.later)), days(t.column(check.earlier))
                both = (later >= 0) & (earlier >= 0)
                ok = later > earlier if check.strict else later >= earlier
                assert ok[both].all(), (spec.name, check)
            elif isinstance(check, RequiredWhen):
                when = np.isin(col(t, check.when).astype(str), check.values)
                present = t.column(check.column).is_valid().to_numpy(zero_copy_only=False)
                # set exactly when required
                assert (present == when).all(), (spec.name, check)
            elif isinstance(check, ScoreWithinScale):
                score, low, high = (col(t, n) for n in (check.score, check.low, check.high))
                assert ((low <= score) & (score <= high) & (high > low)).all()
            elif isinstance(check, NoCycle):
                parent = dict(zip(col(t, "team_id"), col(t, check.parent), strict=True))
                for start in parent:
                    seen, node = set(), start
                    while node is not None:
                        assert node not in seen, start
                        seen.add(node)
                        node = parent[node]


def test_closed_and_settled_and_paid_columns_follow_status(book: Book) -> None:
    claims = book["claims"]
    status = col(claims, "status")
    paid = claims.column("amount_paid").is_valid().to_numpy(zero_copy_only=False)
    reserve = claims.column("outstanding_reserve").is_valid().to_numpy(zero_copy_only=False)
    assert (paid == (status == "settled")).all()
    assert (reserve == (status == "open")).all()
    leads = book["leads"]
    closed = leads.column("closed_date").is_valid().to_numpy(zero_copy_only=False)
    assert (closed == np.isin(col(leads, "status"), ["won", "lost"])).all()
    policies = book["policies"]
    start, end = days(policies.column("start_date")), days(policies.column("end_date"))
    # annual terms: end = start + 1 year - 1 day
    one_year = [
        (date.fromordinal(s + EPOCH.toordinal()), date.fromordinal(e + EPOCH.toordinal()))
        for s, e in zip(start[:2000], end[:2000], strict=True)
    ]
    for s, e in one_year:
        nxt = date(s.year + 1, 3, 1) if (s.month, s.day) == (2, 29) else s.replace(year=s.year + 1)
        assert e == nxt - timedelta(days=1)


def test_no_event_date_after_as_of(book: Book) -> None:
    as_of = day(AS_OF)
    for spec in TABLES:
        t = book[spec.name]
        for name in spec.event_dates:
            if spec.column(name).type == "month":
                assert max(t.column(name).to_pylist()) <= AS_OF.strftime("%Y-%m")
            else:
                assert days(t.column(name)).max() <= as_of, (spec.name, name)
    policies = book["policies"]
    assert days(policies.column("start_date")).max() <= as_of
    assert days(policies.column("risk_assessment_date")).max() <= as_of


def test_rows_respect_hire_and_exit(book: Book) -> None:
    rms = book["relationship_managers"]
    hire = dict(zip(col(rms, "rm_id"), days(rms.column("hire_date")), strict=True))
    exit_ = dict(zip(col(rms, "rm_id"), days(rms.column("exit_date")), strict=True))
    role = dict(zip(col(rms, "rm_id"), col(rms, "role"), strict=True))
    assert (col(rms, "active") == ~rms.column("exit_date").is_valid().to_numpy(False)).all()
    for spec in TABLES:
        if "rm_id" not in spec.column_names or not spec.event_dates:
            continue
        t = book[spec.name]
        rm = col(t, "rm_id")
        lo = np.array([hire[r] for r in rm])
        hi = np.array([exit_[r] if exit_[r] >= 0 else 10**9 for r in rm])
        assert not any(role[r] == "manager" for r in set(rm)), spec.name
        for name in spec.event_dates:
            if spec.column(name).type == "month":
                continue
            d = days(t.column(name))
            present = d >= 0
            assert (d[present] >= lo[present]).all(), (spec.name, name)
            assert (d[present] <= hi[present]).all(), (spec.name, name)
    # claims are credited to the policy's RM: their dates stay inside that RM's employment too
    policies, claims = book["policies"], book["claims"]
    rm_of = dict(zip(col(policies, "policy_id"), col(policies, "rm_id"), strict=True))
    rm = [rm_of[p] for p in col(claims, "policy_id")]
    hi = np.array([exit_[r] if exit_[r] >= 0 else 10**9 for r in rm])
    lo = np.array([hire[r] for r in rm])
    for name in ("intimation_date", "settled_date"):
        d = days(claims.column(name))
        present = d >= 0
        assert ((d >= lo) & (d <= hi))[present].all(), name


def test_organisation(book: Book) -> None:
    teams, rms = book["teams"], book["relationship_managers"]
    role = dict(zip(col(rms, "rm_id"), col(rms, "role"), strict=True))
    team_of = dict(zip(col(rms, "rm_id"), col(rms, "team_id"), strict=True))
    branch = teams.column("parent_team_id").is_null().to_numpy(zero_copy_only=False)
    assert branch.sum() >= 2
    for team_id, leader, is_branch in zip(
        col(teams, "team_id"), col(teams, "leader_rm_id"), branch, strict=True
    ):
        members = [r for r, t in team_of.items() if t == team_id and role[r] == "rm"]
        if is_branch:
            assert role[leader] == "manager" and not members
        else:
            assert 6 <= len(members) <= 10
            assert role[leader] == "manager" or leader in members
    leaders = [role[r] for r, b in zip(col(teams, "leader_rm_id"), branch, strict=True) if not b]
    assert leaders.count("rm") > leaders.count("manager") >= 1
    policies = book["policies"]
    managers = {r for r, v in role.items() if v == "manager"}
    assert not managers & set(col(policies, "rm_id"))
    assert not managers & set(col(book["leads"], "rm_id"))
    hire, exit_ = days(rms.column("hire_date")), days(rms.column("exit_date"))
    assert ((hire >= day(START)) & (hire <= day(AS_OF))).any()  # a joiner
    assert ((exit_ >= day(START)) & (exit_ <= day(AS_OF))).sum() >= 1  # a leaver
    clients_per_rm = policies.group_by("rm_id").aggregate([("client_id", "count_distinct")])
    counts = col(clients_per_rm, "client_id_count_distinct")
    assert (counts <= 5).any()  # a tiny book
    assert np.median(counts) > 200


def renewal_outcome(policies: Any) -> tuple[np.ndarray, np.ndarray]:
    """Due-for-renewal mask and renewed-within-grace flag per policy."""
    status = col(policies, "status")
    end = days(policies.column("end_date"))
    due = ~np.isin(status, ["cancelled", "lapsed", "matured", "terminated_death"])
    ids = col(policies, "policy_id")
    index = {p: i for i, p in enumerate(ids)}
    renewed = np.zeros(len(ids), dtype=bool)
    start = days(policies.column("start_date"))
    for prev, s in zip(policies.column("renewal_of_policy_id").to_pylist(), start, strict=True):
        if prev is not None:
            i = index[prev]
            renewed[i] |= s <= end[i] + GRACE_DAYS
    return due, renewed


def test_renewal_rate_and_lateness(book: Book) -> None:
    policies = book["policies"]
    due, renewed = renewal_outcome(policies)
    end = days(policies.column("end_date"))
    observed = due & (end >= day(START)) & (end <= day(AS_OF) - GRACE_DAYS)
    rate = renewed[observed].mean()
    assert 0.75 <= rate <= 0.95
    # some renewals come late (31-60 days after the end): not counted as renewed
    renewals = policies.filter(pc.equal(policies.column("business_type"), "renewal"))
    ends = dict(zip(col(policies, "policy_id"), end, strict=True))
    gap = days(renewals.column("start_date")) - np.array(
        [ends[p] for p in col(renewals, "renewal_of_policy_id")]
    )
    assert ((gap > GRACE_DAYS) & (gap <= 60)).any()
    assert gap.min() >= 1
    status = col(policies, "status")
    assert {"in_force", "expired", "lapsed", "cancelled"} <= set(status)


def test_free_look_cancellations_and_other_rm_renewals(book: Book) -> None:
    policies = book["policies"]
    cancelled = policies.filter(pc.equal(policies.column("status"), "cancelled"))
    age = days(cancelled.column("cancel_date")) - days(cancelled.column("issue_date"))
    assert ((age >= 0) & (age <= 30)).any()
    assert (age > 30).any()
    rm = dict(zip(col(policies, "policy_id"), col(policies, "rm_id"), strict=True))
    renewals = policies.filter(pc.equal(policies.column("business_type"), "renewal"))
    other = [
        rm[p] != r
        for p, r in zip(col(renewals, "renewal_of_policy_id"), col(renewals, "rm_id"), strict=True)
    ]
    assert 0.005 < np.mean(other) < 0.1


def test_leads_win_rates(book: Book) -> None:
    leads = book["leads"]
    status, source = col(leads, "status"), col(leads, "source")
    closed = status != "open"
    win = (status == "won")[closed].mean()
    assert 0.12 <= win <= 0.30
    referral = closed & (source == "referral")
    assert (status == "won")[referral].mean() > win + 0.15
    assert 0.12 <= (source == "referral").mean() <= 0.22
    referred = leads.column("referred_by_client_id").is_valid().to_numpy(zero_copy_only=False)
    assert referred[source == "referral"].mean() > 0.9
    assert not referred[source != "referral"].any()
    cross = col(leads, "cross_sell")
    has_client = leads.column("client_id").is_valid().to_numpy(zero_copy_only=False)
    assert cross.any() and has_client[cross].all()
    created = days(leads.column("created_date"))
    assert created[status == "open"].min() >= day(AS_OF) - 120  # open ones are recent


def test_claims(book: Book) -> None:
    claims = book["claims"]
    status = col(claims, "status")
    settled = status == "settled"
    took = days(claims.column("settled_date")) - days(claims.column("intimation_date"))
    assert 9 <= np.median(took[settled]) <= 18
    assert {"open", "settled", "rejected", "withdrawn"} <= set(status)
    assert (days(claims.column("intimation_date")) >= days(claims.column("loss_date"))).all()


def test_interactions_and_surveys(book: Book) -> None:
    inter = book["interactions"]
    kind, status = col(inter, "type"), col(inter, "status")
    edu = inter.filter(pc.equal(inter.column("type"), "education_session"))
    sessions = pc.drop_null(edu.column("session_id")).value_counts()
    assert max(sessions.field("counts").to_pylist()) >= 2  # a group education session
    rms = book["relationship_managers"]
    n_rm = int(pc.sum(pc.equal(rms.column("role"), "rm")).as_py())
    meetings = ((kind == "meeting") & (status == "completed")).sum() / (n_rm * MONTHS)
    assert 12 <= meetings <= 25
    surveys = book["surveys"]
    assert set(col(surveys, "survey_type")) == set(table("surveys").column("survey_type").enum)
    assert set(col(surveys, "scale_max")) == {5.0, 10.0}
    scores = col(surveys, "score")
    assert (scores == np.round(scores)).all()


def test_activities_and_the_rest(book: Book) -> None:
    acts = book["activities"]
    kind, status = col(acts, "type"), col(acts, "status")
    assert set(kind) == set(table("activities").column("type").enum)
    training = acts.filter(pc.equal(acts.column("type"), "training"))
    t_status = col(training, "status")
    assert {"planned", "completed", "cancelled"} <= set(t_status)
    due, done = days(training.column("due_date")), days(training.column("completed_date"))
    assert (due >= 0).all()
    assert ((done > due) & (t_status == "completed")).any()  # some late
    outcome = acts.column("outcome").is_valid().to_numpy(zero_copy_only=False)
    assert set(kind[outcome]) == {"innovation_project"}
    corrections = acts.column("corrections").is_valid().to_numpy(zero_copy_only=False)
    assert set(kind[corrections]) == {"performance_report"}
    assert (status[kind == "performance_report"] == "completed").all()
    checks = book["document_checks"]
    good = col(checks, "in_good_order").mean()
    assert 0.88 <= good <= 0.98
    tools = book["tool_usage"]
    per_month = tools.group_by(["rm_id", "month"]).aggregate([("tool", "count")])
    assert set(col(per_month, "tool_count")) <= {2, 3, 4}
    active = col(tools, "active_days")
    assert 0.7 <= (active >= 4).mean() <= 0.97
    incidents = book["compliance_incidents"]
    assert col(incidents, "substantiated").any()
    goals = book["team_goals"]
    periods = set(col(goals, "period"))
    assert {"2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4"} <= periods
    assert any(len(p) == 7 and p.startswith("2024-") for p in periods)  # monthly goals too
    meas = book["measurements"]
    kpis = col(meas, "kpi_id")
    assert set(kpis) == {"automation_time_savings", "management_decision_impact"}
    impact = col(meas, "value")[kpis == "management_decision_impact"]
    assert set(impact) <= {0.0, 25.0, 50.0, 75.0, 100.0}
    savings = col(meas, "value")[kpis == "automation_time_savings"]
    assert savings.min() >= 5 and savings.max() <= 30


def test_initiative(book: Book) -> None:
    init = book["initiatives"]
    assert col(init, "initiative_id").tolist() == [INITIATIVE_ID]
    assert init.column("start_date")[0].as_py() == date(2024, 7, 1)  # month index 12 // 2
    rms = book["relationship_managers"]
    n_rm = int(pc.sum(pc.equal(rms.column("role"), "rm")).as_py())
    share = book["initiative_participants"].num_rows / n_rm
    assert 0.28 <= share <= 0.42


def test_fiscal_calendar_labels() -> None:
    small = generate_book(rms=12, months=6, seed=3, start=date(2025, 2, 1), calendar=Calendar(4))
    periods = set(col(small["measurements"], "period"))
    assert periods == {"FY2025-Q4", "FY2026-Q1", "FY2026-Q2"}
    assert col(small["tool_usage"], "month").min() == "2025-02"


def test_initiative_effect_difference_in_differences(big_book: Book) -> None:
    policies = big_book["policies"]
    start = days(big_book["initiatives"].column("start_date"))[0]
    participants = set(col(big_book["initiative_participants"], "rm_id"))
    due, renewed = renewal_outcome(policies)
    end = days(policies.column("end_date"))
    as_of = day(date(2025, 12, 31))
    first = day(date(2024, 1, 1))
    part = np.isin(col(policies, "rm_id"), list(participants))
    before = due & (end >= first) & (end < start)
    after = due & (end >= start) & (end <= as_of - GRACE_DAYS)

    def rate(mask: np.ndarray) -> float:
        return float(renewed[mask].mean())

    did = (rate(after & part) - rate(before & part)) - (rate(after & ~part) - rate(before & ~part))
    assert abs(did - RENEWAL_UPLIFT) <= 0.03
