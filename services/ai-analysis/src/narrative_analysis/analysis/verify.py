"""Check every cited number against the field it names before an analysis is kept.

An item (finding, target recommendation, prediction driver) is dropped in
three cases. An evidence source names no known field (`unknown_source`). An
evidence value does not match its field (`value_mismatch`). The item's text
contains a number that none of its evidence values backs (`unsourced_number`). Integers
from 0 to 10 written without a percent sign are taken as counts of things
("3 columns") and not checked. Next steps and the summary carry no evidence,
so a number in them must match some known field anywhere.
"""

import re
from collections.abc import Iterable

from narrative_analysis.analysis.facts import Facts, matches
from narrative_analysis.analysis.schemas import (
    DatasetInsights,
    DroppedFinding,
    Evidence,
    ModelInsights,
)

# A number not glued to a letter, digit or underscore, so `BsmtFinSF1`,
# `1stFlrSF` and `p50` are left alone. Thousands separators and a trailing
# percent sign belong to the number.
_NUMBER = re.compile(
    r"(?<![\w.])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?%?(?![\w])|"
    r"(?<![\w.])-?\d+(?:\.\d+)?%?(?![\w])"
)
SMALL_COUNT_MAX = 10

Insights = DatasetInsights | ModelInsights


def numbers_in(text: str) -> list[tuple[float, bool]]:
    """Return each number in text with whether it was written as a percentage."""
    found = []
    for token in _NUMBER.findall(text):
        percent = token.endswith("%")
        value = float(token.rstrip("%").replace(",", ""))
        if not percent and value.is_integer() and 0 <= value <= SMALL_COUNT_MAX:
            continue
        found.append((value, percent))
    return found


def _backed(value: float, percent: bool, candidates: Iterable[float]) -> bool:
    for candidate in candidates:
        if percent and matches(value / 100, candidate):
            return True
        if not percent and matches(value, candidate):
            return True
    return False


def check_evidence(evidence: list[Evidence], texts: list[str], facts: Facts):
    """Return None when an item's numbers hold, else (reason, detail)."""
    actual_values: list[float] = []
    for item in evidence:
        actual = facts.get(item.source)
        if actual is None:
            return "unknown_source", f"{item.source} names no known field"
        if not matches(item.value, actual):
            return (
                "value_mismatch",
                f"{item.source} is {actual:g}, but the analysis cited {item.value:g}",
            )
        actual_values.append(actual)
    for text in texts:
        for value, percent in numbers_in(text):
            if not _backed(value, percent, actual_values):
                shown = f"{value:g}%" if percent else f"{value:g}"
                return "unsourced_number", f"{shown} is backed by no cited field"
    return None


def verify(insights: Insights, facts: Facts) -> tuple[Insights, list[DroppedFinding]]:
    """Return a copy of insights without the items whose numbers fail the check."""
    checked = insights.model_copy(deep=True)
    dropped: list[DroppedFinding] = []

    def keep(section: str, items: list, title_of, texts_of) -> list:
        kept = []
        for item in items:
            failure = check_evidence(item.evidence, texts_of(item), facts)
            if failure is None:
                kept.append(item)
                continue
            reason, detail = failure
            dropped.append(
                DroppedFinding(
                    section=section, title=title_of(item), reason=reason, detail=detail
                )
            )
        return kept

    def finding_texts(item) -> list[str]:
        return [item.title, item.detail]

    checked.key_findings = keep(
        "key_findings", checked.key_findings, lambda f: f.title, finding_texts
    )
    checked.data_quality_risks = keep(
        "data_quality_risks",
        checked.data_quality_risks,
        lambda f: f.title,
        finding_texts,
    )
    if isinstance(checked, DatasetInsights):
        checked.recommended_targets = keep(
            "recommended_targets",
            checked.recommended_targets,
            lambda t: t.column,
            lambda t: [t.reason],
        )
    else:
        checked.weaknesses = keep(
            "weaknesses", checked.weaknesses, lambda f: f.title, finding_texts
        )
        checked.prediction_drivers = keep(
            "prediction_drivers",
            checked.prediction_drivers,
            lambda d: d.feature,
            lambda d: [d.explanation],
        )
    all_values = list(facts.values.values())
    steps = []
    for step in checked.next_steps:
        if all(_backed(v, p, all_values) for v, p in numbers_in(step)):
            steps.append(step)
        else:
            dropped.append(
                DroppedFinding(
                    section="next_steps",
                    title=step[:120],
                    reason="unsourced_number",
                    detail="a number in this step matches no known field",
                )
            )
    checked.next_steps = steps
    return checked, dropped


def summary_is_sourced(summary: str, facts: Facts) -> bool:
    all_values = list(facts.values.values())
    return all(_backed(v, p, all_values) for v, p in numbers_in(summary))
