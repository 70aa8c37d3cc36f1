"""Delimiter detection from the first lines of a CSV file."""

import csv
import io
from collections import Counter

CANDIDATES = (",", ";", "\t", "|")
SAMPLE_RECORDS = 50


def detect_delimiter(sample: str) -> str:
    """Return the candidate that splits the sample's records most consistently.

    Each candidate parses the sample with CSV quoting rules, so delimiters
    inside quoted values do not count. A candidate scores by the share of
    records that have the most common field count, then by that field count.
    A sample in which no candidate splits a record is one column: ",".
    """
    best, best_score = ",", (0.0, 1)
    lines = _complete_text(sample)
    for delimiter in CANDIDATES:
        records = list(csv.reader(io.StringIO(lines), delimiter=delimiter))
        counts = [len(record) for record in records[:SAMPLE_RECORDS] if record]
        if not counts:
            continue
        width, frequency = Counter(counts).most_common(1)[0]
        if width < 2:
            continue
        score = (frequency / len(counts), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _complete_text(sample: str) -> str:
    """Drop the sample's last line when the sample cut it short."""
    if sample.endswith(("\n", "\r")):
        return sample
    cut = max(sample.rfind("\n"), sample.rfind("\r"))
    return sample[: cut + 1] if cut > 0 else sample
