"""A 0-100 data quality score with the reasons that lowered it."""

from narrative_datasets.ingest.types import ColumnKind

# Each reason's penalty grows with its extent and stops at its cap, in points.
MISSING_CAP = 30
DUPLICATE_CAP = 20
CONSTANT_PENALTY, CONSTANT_CAP = 5, 15
HIGH_CARDINALITY_PENALTY, HIGH_CARDINALITY_CAP = 3, 10
HIGH_CARDINALITY_SHARE = 0.9
HIGH_CARDINALITY_MIN_DISTINCT = 50
PII_PENALTY, PII_CAP = 5, 15


def quality_score(profile: dict, pii: list[dict]) -> dict:
    """Return `{"score", "reasons"}`; each reason names its code, columns and penalty."""
    reasons = []
    rows, columns = profile["rows"], profile["columns"]
    cells = rows * len(columns)
    if cells and profile["missing_cells"]:
        share = profile["missing_cells"] / cells
        affected = [c["name"] for c in columns if c["missing"]]
        reasons.append(
            _reason(
                "missing_cells",
                f"{share:.1%} of cells are missing, in {len(affected)} columns.",
                min(MISSING_CAP, 100 * share),
                affected,
            )
        )
    if rows and profile["duplicate_rows"]:
        share = profile["duplicate_rows"] / rows
        reasons.append(
            _reason(
                "duplicate_rows",
                f"{profile['duplicate_rows']} rows ({share:.1%}) repeat an earlier row.",
                min(DUPLICATE_CAP, 2 + 100 * share),
                [],
            )
        )
    constant = [c["name"] for c in columns if c["distinct"] <= 1]
    if constant:
        reasons.append(
            _reason(
                "constant_columns",
                f"{len(constant)} columns hold a single value (or none) and carry "
                "no information.",
                min(CONSTANT_CAP, CONSTANT_PENALTY * len(constant)),
                constant,
            )
        )
    wide = [
        c["name"]
        for c in columns
        if c["kind"] == ColumnKind.CATEGORICAL
        and c["distinct"] >= HIGH_CARDINALITY_MIN_DISTINCT
        and c["count"]
        and c["distinct"] / c["count"] >= HIGH_CARDINALITY_SHARE
    ]
    if wide:
        reasons.append(
            _reason(
                "high_cardinality",
                f"{len(wide)} categorical columns have almost one distinct value "
                "per row, so models can hardly learn from them.",
                min(HIGH_CARDINALITY_CAP, HIGH_CARDINALITY_PENALTY * len(wide)),
                wide,
            )
        )
    if pii:
        names = [item["column"] for item in pii]
        reasons.append(
            _reason(
                "pii",
                f"{len(names)} columns appear to hold personal data (emails, phone "
                "or card numbers).",
                min(PII_CAP, PII_PENALTY * len(names)),
                names,
            )
        )
    score = max(0.0, 100.0 - sum(reason["penalty"] for reason in reasons))
    return {"score": round(score, 1), "reasons": reasons}


def _reason(code: str, message: str, penalty: float, columns: list[str]) -> dict:
    return {
        "code": code,
        "message": message,
        "penalty": round(penalty, 1),
        "columns": columns,
    }
