"""Number formatting for the local analyzer's sentences.

Each format keeps a written number within the fact check's tolerance of the
field it cites (1% or 0.005), so the local analyzer's own output always
passes the check.
"""

from narrative_analysis.analysis.schemas import Evidence


def num(value: float) -> str:
    """Format a number with thousands separators or three significant digits."""
    if float(value).is_integer() or abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) < 0.01:
        return f"{value:.4f}"
    return f"{value:.3g}"


def pct(share: float) -> str:
    """Format a fraction (0.265) as a percentage with one decimal (26.5%)."""
    return f"{share * 100:.1f}%"


def cite(value: float, source: str) -> Evidence:
    return Evidence(value=round(value, 6), source=source)
