"""The words an insurer's systems use for the contract's tables, columns and enum values.

`kraft mapping suggest` matches an export's names through these lists after normalising them
(lower case, any run of other characters a space): "Policy No." and "POLICY_NO" are "policy no".
A word missing here is not guessed: the suggestion leaves a TODO for a person.
"""

from __future__ import annotations

import re

from kraft.schema.tables import Column, ColumnType, Table

_NOT_WORD = re.compile(r"[^a-z0-9]+")


def normalised(name: str) -> str:
    """'Policy No.' → 'policy no'; 'RM_Code' → 'rm code'."""
    return _NOT_WORD.sub(" ", name.lower()).strip()


# Words in a file's or sheet's name that point at a table.
TABLE_WORDS: dict[str, tuple[str, ...]] = {
    "teams": ("team", "branch", "branches"),
    "relationship_managers": ("rm", "rms", "agent", "agents", "employee", "staff", "manager"),
    "clients": ("client", "customer", "customers"),
    "policies": ("policy", "policy register", "book"),
    "policy_servicing": ("servicing", "reallocation"),
    "rm_team_history": ("transfer", "transfers", "team history"),
    "premium_payments": ("premium payment", "instalment", "instalments", "collection"),
    "leads": ("lead", "opportunity", "opportunities", "pipeline"),
    "interactions": ("interaction", "meeting", "meetings", "visit", "visits", "call log"),
    "claims": ("claim",),
    "surveys": ("survey", "feedback", "csat", "nps"),
    "activities": ("activity", "training", "trainings"),
    "compliance_audits": ("audit", "audits"),
    "compliance_incidents": ("incident", "incidents", "breach", "breaches"),
    "document_checks": ("document check", "qc", "document qc"),
    "tool_usage": ("tool usage", "usage", "adoption"),
    "team_goals": ("team goal", "goals"),
    "measurements": ("measurement", "manual"),
}

# Column synonyms beyond the generic forms (see column_names).
COLUMN_WORDS: dict[str, tuple[str, ...]] = {
    "policy_id": ("policy no", "policy number", "policy num", "pol no", "policy"),
    "client_id": (
        "client code",
        "customer id",
        "customer code",
        "customer no",
        "cust id",
        "cust code",
        "client",
        "customer",
    ),
    "rm_id": (
        "rm code",
        "agent code",
        "agent id",
        "rm",
        "employee code",
        "emp code",
        "emp id",
        "servicing rm",
        "rm emp code",
        "sales code",
    ),
    "team_id": ("team code", "branch code", "branch id", "team"),
    "parent_team_id": ("parent team", "parent branch", "region code", "parent code"),
    "leader_rm_id": ("leader", "team leader", "leader code", "leader rm", "manager code"),
    "renewal_of_policy_id": (
        "renewed from",
        "previous policy",
        "previous policy no",
        "prev policy no",
        "old policy no",
        "renewal of",
    ),
    "referred_by_client_id": ("referred by", "referrer", "referrer code", "referred by client"),
    "claim_id": ("claim no", "claim number", "claim ref", "claim reference"),
    "lead_id": ("lead no", "lead number", "opportunity id", "opportunity no"),
    "annual_premium": ("premium", "gwp", "premium amount", "written premium", "annualised premium"),
    "sum_insured": ("si", "sum assured", "cover amount", "sa"),
    "issue_date": ("issue dt", "date of issue", "booking date", "issued on"),
    "start_date": ("risk start", "risk start date", "commencement date", "inception date"),
    "end_date": ("expiry date", "expiry", "risk end", "risk end date", "maturity date"),
    "cancel_date": ("cancellation date", "cancelled on", "cancel dt"),
    "hire_date": ("doj", "date of joining", "joining date", "join date"),
    "exit_date": ("dol", "date of leaving", "leaving date", "resignation date"),
    "acquired_date": ("customer since", "client since", "onboarding date", "acquisition date"),
    "product_line": ("lob", "line of business", "product", "product category", "line"),
    "business_type": ("biz type", "new renewal", "type of business", "new or renewal"),
    "premium_frequency": ("frequency", "payment frequency", "mode", "premium mode"),
    "intimation_date": ("intimation dt", "date of intimation", "reported date", "reported on"),
    "loss_date": ("date of loss", "accident date", "loss dt", "incident date"),
    "settled_date": ("settlement date", "date of settlement", "settled on", "settled dt"),
    "amount_claimed": ("claim amount", "claimed amount", "claimed"),
    "amount_paid": ("paid amount", "settled amount", "amount settled"),
    "created_date": ("lead date", "created on", "creation date", "created dt"),
    "closed_date": ("close date", "closed on", "closed dt"),
    "expected_premium": ("expected premium amount", "potential premium"),
    "email": ("e mail", "email id", "mail id", "mail"),
    "name": ("full name",),
}


def column_names(table: Table, column: Column) -> set[str]:
    """The normalised source names taken to mean `column` of `table`."""
    base = column.name.replace("_", " ")
    names = {base, *COLUMN_WORDS.get(column.name, ())}
    if column.name.endswith("_id"):
        stem = base.removesuffix(" id")
        names |= {f"{stem} {w}" for w in ("code", "no", "number", "ref")}
    if column.name.endswith("_date"):
        stem = base.removesuffix(" date")
        names |= {f"{stem} dt", f"date of {stem}", f"{stem} on"}
    if "_" not in column.name:  # name, status, type, date: "Policy Status", "Agent Name"
        names |= {f"{word} {base}" for word in SINGULAR.get(table.name, ())}
    return names


# What a source calls one row of a table, for its one-word columns ("Claim Status").
SINGULAR: dict[str, tuple[str, ...]] = {
    "teams": ("team", "branch"),
    "relationship_managers": ("rm", "agent", "employee", "emp"),
    "clients": ("client", "customer"),
    "policies": ("policy",),
    "leads": ("lead", "opportunity"),
    "interactions": ("interaction", "meeting", "activity"),
    "claims": ("claim",),
    "surveys": ("survey", "response"),
    "activities": ("activity",),
    "compliance_audits": ("audit",),
    "compliance_incidents": ("incident",),
    "document_checks": ("check",),
    "team_goals": ("goal",),
    "initiatives": ("initiative",),
}


# Source words for enum values, beyond the value itself in any case and with spaces or hyphens.
VALUE_WORDS: dict[str, str] = {
    "inforce": "in_force",
    "active": "in_force",
    "live": "in_force",
    "canceled": "cancelled",
    "cancel": "cancelled",
    "surrendered": "cancelled",
    "lapse": "lapsed",
    "death": "terminated_death",
    "death claim": "terminated_death",
    "fresh": "new",
    "new business": "new",
    "nb": "new",
    "renewed": "renewal",
    "rn": "renewal",
    "auto": "motor",
    "car": "motor",
    "mediclaim": "health",
    "medical": "health",
    "term": "life",
    "fire": "property",
    "home": "property",
    "pending": "open",
    "under process": "open",
    "in progress": "open",
    "paid": "settled",
    "repudiated": "rejected",
    "declined": "rejected",
    "converted": "won",
    "dropped": "lost",
    "half yearly": "half_yearly",
    "semi annual": "half_yearly",
    "yearly": "annual",
    "walk in": "walk_in",
    "walkin": "walk_in",
    "online": "digital",
    "done": "completed",
    "noshow": "no_show",
}

TRUE_WORDS = ("y", "t", "true", "yes", "1")
FALSE_WORDS = ("n", "f", "false", "no", "0")


def enum_value(column: Column, word: str) -> str | None:
    """The contract's value a source word stands for, or None when it cannot tell."""
    assert column.type is ColumnType.enum
    folded = normalised(word)
    as_value = folded.replace(" ", "_")
    if as_value in column.enum:
        return as_value
    known = VALUE_WORDS.get(folded)
    return known if known in column.enum else None
