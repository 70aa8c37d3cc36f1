"""Detection of personal data (emails, phone numbers, payment cards) in a sample."""

import re

import polars as pl

SAMPLE_VALUES = 1000
# Share of a column's sampled values that must match for the column to count.
MIN_MATCH_SHARE = 0.6

EMAIL = re.compile(
    r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$"
)
PHONE = re.compile(r"^\+?\(?\d[\d\s().-]{6,22}\d$")
CARD = re.compile(r"^\d(?:[ -]?\d){12,18}$")
PHONE_SEPARATORS = re.compile(r"[\s().+-]")


def luhn_valid(digits: str) -> bool:
    """Return True when the digit string passes the Luhn checksum of card numbers."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def classify_value(value: str) -> str | None:
    """Return "email", "payment_card" or "phone" when the value looks like one."""
    if "@" in value and EMAIL.match(value):
        return "email"
    if CARD.match(value):
        digits = re.sub(r"\D", "", value)
        if luhn_valid(digits):
            return "payment_card"
    if PHONE.match(value):
        digits = re.sub(r"\D", "", value)
        # Bare digit strings are too often plain numbers to call them phones.
        if 7 <= len(digits) <= 15 and PHONE_SEPARATORS.search(value):
            return "phone"
    return None


def _may_hold_pii(column: pl.Series) -> bool:
    """Return True when enough values match a pattern to count as personal data.

    The patterns run in polars (Rust regex, Unicode classes as in Python's
    re), which on wide tables is far cheaper than classifying every sampled
    value in Python. Only columns that pass are classified one value at a
    time, with the Luhn check and digit counts.
    """
    digits = column.str.count_matches(r"\d")
    phones = (
        column.str.contains(PHONE.pattern)
        & column.str.contains(PHONE_SEPARATORS.pattern)
        & digits.is_between(7, 15)
    )
    matches = column.str.contains(EMAIL.pattern) | column.str.contains(CARD.pattern)
    return (matches | phones).sum() >= MIN_MATCH_SHARE * column.len()


def detect_pii(sample: pl.DataFrame) -> list[dict]:
    """Return `{"column", "kind", "share"}` for each column that holds personal data.

    `sample` holds the first rows of the table as trimmed strings.
    """
    found = []
    for name in sample.columns:
        column = sample[name].drop_nulls().head(SAMPLE_VALUES)
        if column.len() == 0 or not _may_hold_pii(column):
            continue
        values = column.to_list()
        counts: dict[str, int] = {}
        for value in values:
            kind = classify_value(value)
            if kind is not None:
                counts[kind] = counts.get(kind, 0) + 1
        if not counts:
            continue
        kind, matched = max(counts.items(), key=lambda item: item[1])
        share = matched / len(values)
        if share >= MIN_MATCH_SHARE:
            found.append({"column": name, "kind": kind, "share": round(share, 3)})
    return found
