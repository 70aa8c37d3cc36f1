"""Local analysis of a dataset profile: targets, risks and next steps."""

import re
from dataclasses import dataclass

from narrative_analysis.analysis.profile import ColumnView, ProfileView
from narrative_analysis.analysis.schemas import (
    DatasetInsights,
    Finding,
    ModelTypeRecommendation,
    TargetRecommendation,
)
from narrative_analysis.local.text import cite, num, pct

# Words analysts use in the name of the column they want to predict, matched
# against the words of a name (`SalePrice` is "sale" and "price").
_TARGET_WORDS = frozenset(
    "churn churned target label survived subscribe subscribed outcome default "
    "fraud price salary income revenue sales y class converted response "
    "attrition".split()
)
_ID_NAME = re.compile(r"(^|[^a-z])(id|uuid|guid|key)$|^id([^a-z]|$)", re.IGNORECASE)
_PLACEHOLDERS = frozenset({"unknown", "na", "n/a", "none", "?", "-", "missing", "null"})
_SENTINELS = frozenset({-1.0, -9.0, -99.0, -999.0, -9999.0, 999.0, 9999.0, 99999.0})

MOSTLY_MISSING_SHARE = 0.5
SOME_MISSING_SHARE = 0.05
IDENTIFIER_DISTINCT_SHARE = 0.95
STRONG_CORRELATION = 0.8
# (mean - median) / std above this marks a long right or left tail.
SKEW_RATIO = 0.2
HIGH_CARDINALITY = 50
IMBALANCE_SHARE = 0.35
SENTINEL_MIN_SHARE = 0.05
MAX_CLASSIFICATION_CLASSES = 10
FEW_MISSING_FINDINGS = 5
MAX_PLACEHOLDER_FINDINGS = 6


@dataclass
class _Target:
    column: ColumnView
    problem_type: str
    score: int


def analyze_dataset(profile: ProfileView) -> DatasetInsights:
    """Build a dataset analysis from the profile alone, deterministically."""
    identifiers = [c for c in profile.columns if _is_identifier(c, profile.rows)]
    targets = _rank_targets(profile, identifiers)
    findings: list[Finding] = [_size_finding(profile)]
    risks: list[Finding] = []

    for target in targets[:1]:
        balance = _balance_finding(target, profile.rows)
        if balance is not None:
            (risks if balance.severity != "info" else findings).append(balance)
    risks += _missing_findings(profile)
    risks += [_identifier_finding(c, profile.rows) for c in identifiers]
    risks += _constant_findings(profile)
    sentinel_risks = _sentinel_findings(profile)
    risks += sentinel_risks
    risks += _placeholder_findings(profile)
    risks += _cardinality_findings(profile, identifiers)
    if profile.pii_columns:
        risks.append(_pii_finding(profile))
    target_names = {t.column.name for t in targets[:1]}
    findings += _correlation_findings(profile, target_names)
    findings += _skew_findings(profile, {f.columns[0] for f in sentinel_risks})
    if profile.quality_score is not None:
        findings.append(_quality_finding(profile))

    return DatasetInsights(
        summary=_summary(profile, targets, risks),
        key_findings=findings,
        data_quality_risks=risks,
        recommended_targets=[_recommend(t, profile.rows) for t in targets[:3]],
        recommended_model_types=_model_types(targets[0] if targets else None),
        next_steps=_next_steps(targets, identifiers, profile, sentinel_risks),
    )


def _name_words(name: str) -> set[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return {word.lower() for word in re.split(r"[^A-Za-z0-9]+", spaced) if word}


def _target_like(name: str) -> bool:
    return bool(_name_words(name) & _TARGET_WORDS)


def _is_identifier(column: ColumnView, rows: int) -> bool:
    if column.type == "identifier":
        return True
    if (
        column.distinct is None
        or rows < 20
        or column.type
        not in (
            "numeric",
            "categorical",
            "text",
        )
    ):
        return False
    distinct_share = column.distinct / rows
    if column.type == "numeric":
        return distinct_share >= 0.999 and bool(_ID_NAME.search(column.name))
    return distinct_share >= IDENTIFIER_DISTINCT_SHARE


def _rank_targets(profile: ProfileView, identifiers: list[ColumnView]) -> list:
    excluded = {c.name for c in identifiers} | set(profile.pii_columns)
    ranked: list[_Target] = []
    last = profile.columns[-1].name if profile.columns else None
    for column in profile.columns:
        if column.name in excluded or column.type in ("datetime", "text"):
            continue
        problem_type = _problem_type(column)
        if problem_type is None:
            continue
        score = 0
        if _target_like(column.name):
            score += 3
        if column.type == "boolean" or column.distinct == 2:
            score += 2
        elif problem_type == "classification":
            score += 1
        if column.name == last:
            score += 1
        if column.missing:
            score -= 1
        ranked.append(_Target(column, problem_type, score))
    ranked.sort(key=lambda t: -t.score)
    strong = [t for t in ranked if t.score >= 3]
    return strong or ranked[:1]


def _problem_type(column: ColumnView) -> str | None:
    distinct = column.distinct or 0
    if distinct < 2:
        return None
    if column.type == "boolean" or distinct <= MAX_CLASSIFICATION_CLASSES:
        return "classification"
    if column.type == "numeric":
        return "regression"
    return None


def _positive_share(column: ColumnView, rows: int):
    """Return (label, share, source) of the rarest class, or None."""
    if len(column.top_values) >= 2 and rows > 0:
        label, count = column.top_values[-1]
        source = f"columns[{column.name}].top_values[{label}].share"
        return label, count / rows, source
    if column.distinct == 2 and column.min == 0 and column.max == 1 and column.mean:
        share = column.mean
        label = "1" if share <= 0.5 else "0"
        share = share if share <= 0.5 else 1 - share
        if label == "0":
            return None
        return label, share, f"columns[{column.name}].mean"
    return None


def _balance_finding(target: _Target, rows: int) -> Finding | None:
    if target.problem_type != "classification":
        return None
    minority = _positive_share(target.column, rows)
    if minority is None:
        return None
    label, share, source = minority
    name = target.column.name
    if share >= IMBALANCE_SHARE:
        return Finding(
            title=f"{name} is reasonably balanced",
            detail=f"The rarest class of {name}, {label}, covers {pct(share)} of rows.",
            severity="info",
            columns=[name],
            evidence=[cite(share, source)],
        )
    return Finding(
        title=f"{name} is imbalanced",
        detail=(
            f"Only {pct(share)} of rows have {name} = {label}. A model that always "
            f"predicts the majority class looks accurate but finds none of them, "
            "so judge models by recall on the rare class, precision and ROC AUC, "
            "and consider class weights."
        ),
        severity="warning",
        columns=[name],
        evidence=[cite(share, source)],
    )


def _size_finding(profile: ProfileView) -> Finding:
    kinds = profile.type_counts()
    mix = ", ".join(f"{kind} {count}" for kind, count in kinds.items())
    evidence = [cite(profile.rows, "rows"), cite(len(profile.columns), "column_count")]
    evidence += [cite(count, f"column_types[{kind}]") for kind, count in kinds.items()]
    return Finding(
        title=f"{num(profile.rows)} rows and {len(profile.columns)} columns",
        detail=f"Column types: {mix}.",
        severity="info",
        columns=[],
        evidence=evidence,
    )


def _missing_findings(profile: ProfileView) -> list[Finding]:
    findings = []
    few = 0
    columns = [c for c in profile.columns if c.missing and profile.rows]
    columns.sort(key=lambda c: -(c.missing or 0))
    for column in columns:
        share = column.missing / profile.rows
        source = f"columns[{column.name}].missing_share"
        if share >= MOSTLY_MISSING_SHARE:
            findings.append(
                Finding(
                    title=f"{column.name} is mostly missing",
                    detail=(
                        f"{column.name} is empty in {pct(share)} of rows. Drop it, or "
                        "keep only a flag saying whether it is filled in."
                    ),
                    severity="critical",
                    columns=[column.name],
                    evidence=[cite(share, source)],
                )
            )
        elif share >= SOME_MISSING_SHARE:
            findings.append(
                Finding(
                    title=f"{column.name} has missing values",
                    detail=(
                        f"{column.name} is missing in {pct(share)} of rows; the "
                        "training pipeline imputes them, but check whether the "
                        "gaps follow a pattern."
                    ),
                    severity="warning",
                    columns=[column.name],
                    evidence=[cite(share, source)],
                )
            )
        elif few < FEW_MISSING_FINDINGS:
            few += 1
            findings.append(
                Finding(
                    title=f"{column.name} has a few missing values",
                    detail=(
                        f"{column.name} is missing in {num(column.missing)} rows "
                        f"({pct(share)}); imputing them is safe."
                    ),
                    severity="info",
                    columns=[column.name],
                    evidence=[
                        cite(column.missing, f"columns[{column.name}].missing"),
                        cite(share, source),
                    ],
                )
            )
    return findings


def _identifier_finding(column: ColumnView, rows: int) -> Finding:
    evidence = [cite(rows, "rows")]
    if column.distinct is not None:
        evidence.insert(0, cite(column.distinct, f"columns[{column.name}].distinct"))
    return Finding(
        title=f"{column.name} identifies rows",
        detail=(
            f"{column.name} has a different value on almost every row, so it names "
            "a record instead of describing it. Exclude it from the features."
        ),
        severity="warning",
        columns=[column.name],
        evidence=evidence,
    )


def _constant_findings(profile: ProfileView) -> list[Finding]:
    return [
        Finding(
            title=f"{c.name} never changes",
            detail=f"{c.name} has a single value, so it carries no information.",
            severity="warning",
            columns=[c.name],
            evidence=[cite(c.distinct, f"columns[{c.name}].distinct")],
        )
        for c in profile.columns
        if c.distinct is not None and c.distinct <= 1 and profile.rows > 1
    ]


def _sentinel_findings(profile: ProfileView) -> list[Finding]:
    findings = []
    for column in profile.columns:
        if column.type != "numeric" or column.min not in _SENTINELS:
            continue
        share_evidence = _sentinel_share(column, profile.rows)
        if share_evidence is None:
            continue
        findings.append(
            Finding(
                title=f"{column.name} uses {num(column.min)} as a code",
                detail=(
                    f"{column.name} takes the value {num(column.min)} often; such a "
                    "value usually means 'not applicable' (for example, never "
                    "contacted), not a real quantity. Replace it with a missing "
                    "value plus a flag before reading means or correlations."
                ),
                severity="warning",
                columns=[column.name],
                evidence=[
                    cite(column.min, f"columns[{column.name}].min"),
                    share_evidence,
                ],
            )
        )
    return findings


def _sentinel_share(column: ColumnView, rows: int):
    for label, count in column.top_values:
        try:
            is_min = float(label) == column.min
        except ValueError:
            continue
        if is_min and rows and count / rows >= SENTINEL_MIN_SHARE:
            return cite(
                count / rows, f"columns[{column.name}].top_values[{label}].share"
            )
    # Without top values, a median equal to the minimum shows the code fills
    # at least half the rows.
    for key in ("p50", "p25", "p10", "p5"):
        if column.quantiles.get(key) == column.min:
            return cite(column.min, f"columns[{column.name}].quantiles[{key}]")
    return None


def _placeholder_findings(profile: ProfileView) -> list[Finding]:
    findings = []
    for column in profile.columns:
        for label, count in column.top_values:
            share = count / profile.rows if profile.rows else 0
            if label.strip().lower() in _PLACEHOLDERS and share >= SENTINEL_MIN_SHARE:
                findings.append(
                    Finding(
                        title=f"{column.name} has a placeholder category",
                        detail=(
                            f"'{label}' fills {pct(share)} of {column.name}. It "
                            "may mean 'none' or 'not known'; the model treats it "
                            "as a category of its own, which is right only when it "
                            "means 'none'."
                        ),
                        severity="info",
                        columns=[column.name],
                        evidence=[
                            cite(
                                share,
                                f"columns[{column.name}].top_values[{label}].share",
                            )
                        ],
                    )
                )
                break
    findings.sort(key=lambda f: -f.evidence[0].value)
    return findings[:MAX_PLACEHOLDER_FINDINGS]


def _cardinality_findings(
    profile: ProfileView, identifiers: list[ColumnView]
) -> list[Finding]:
    skip = {c.name for c in identifiers}
    return [
        Finding(
            title=f"{c.name} has many categories",
            detail=(
                f"{c.name} has {num(c.distinct)} distinct values; one-hot encoding "
                "makes a wide, sparse input. Group rare categories into 'other'."
            ),
            severity="warning",
            columns=[c.name],
            evidence=[cite(c.distinct, f"columns[{c.name}].distinct")],
        )
        for c in profile.columns
        if c.type == "categorical"
        and c.name not in skip
        and (c.distinct or 0) > HIGH_CARDINALITY
    ]


def _pii_finding(profile: ProfileView) -> Finding:
    names = ", ".join(profile.pii_columns)
    return Finding(
        title="Columns with personal data",
        detail=(
            f"{names} look like personal data. Their values were left out of this "
            "analysis; leave them out of models too unless there is a lawful need."
        ),
        severity="warning",
        columns=list(profile.pii_columns),
        evidence=[],
    )


def _correlation_findings(profile: ProfileView, targets: set[str]) -> list[Finding]:
    findings = []
    for left, right, r in profile.correlations:
        if abs(r) < STRONG_CORRELATION:
            break
        if left in profile.pii_columns or right in profile.pii_columns:
            continue
        involves_target = left in targets or right in targets
        detail = f"{left} and {right} move together (r = {r:.2f}). " + (
            "A feature this close to the target may leak the answer: check "
            "that it is known before the outcome."
            if involves_target
            else "They carry much the same information; linear models may "
            "need only one of them."
        )
        findings.append(
            Finding(
                title=f"{left} and {right} are strongly correlated",
                detail=detail,
                severity="warning" if involves_target else "info",
                columns=[left, right],
                evidence=[cite(r, f"correlations[{left},{right}]")],
            )
        )
        if len(findings) == 5:
            break
    return findings


def _skew_findings(profile: ProfileView, sentinels: set[str]) -> list[Finding]:
    findings = []
    for c in profile.columns:
        if c.type != "numeric" or None in (c.mean, c.median, c.std) or not c.std:
            continue
        if (c.distinct or 0) <= MAX_CLASSIFICATION_CLASSES or c.name in sentinels:
            continue
        ratio = (c.mean - c.median) / c.std
        if abs(ratio) < SKEW_RATIO:
            continue
        side = "right" if ratio > 0 else "left"
        advice = (
            "A log transform helps linear models; tree models cope as is."
            if ratio > 0 and (c.min or 0) >= 0
            else "Check the low values for outliers; tree models cope as is."
        )
        findings.append(
            Finding(
                title=f"{c.name} is skewed",
                detail=(
                    f"The mean of {c.name} ({num(c.mean)}) sits far from its "
                    f"median ({num(c.median)}): a long {side} tail. {advice}"
                ),
                severity="info",
                columns=[c.name],
                evidence=[
                    cite(c.mean, f"columns[{c.name}].mean"),
                    cite(c.median, f"columns[{c.name}].quantiles[p50]"),
                ],
            )
        )
    return findings[:6]


def _quality_finding(profile: ProfileView) -> Finding:
    reasons = [r for r in profile.quality_reasons if not re.search(r"\d", r)]
    detail = (
        "Reasons: " + "; ".join(reasons[:5]) + "."
        if reasons
        else ("The score combines missing values, duplicates and column problems.")
    )
    return Finding(
        title=f"Quality score {num(profile.quality_score)}",
        detail=detail,
        severity="info",
        columns=[],
        evidence=[cite(profile.quality_score, "quality_score")],
    )


def _recommend(target: _Target, rows: int) -> TargetRecommendation:
    column = target.column
    if target.problem_type == "regression":
        evidence = [cite(column.distinct, f"columns[{column.name}].distinct")]
        reason = (
            f"{column.name} is a numeric measure with {num(column.distinct)} "
            "distinct values, so predicting it is a regression."
        )
        if _target_like(column.name):
            reason += " Its name marks it as the quantity to predict."
        return TargetRecommendation(
            column=column.name,
            problem_type="regression",
            reason=reason,
            evidence=evidence,
        )
    evidence = []
    reason = f"{column.name} has a few classes, so predicting it is a classification."
    minority = _positive_share(column, rows)
    if minority is not None:
        label, share, source = minority
        evidence.append(cite(share, source))
        reason += f" Its rarest class, {label}, covers {pct(share)} of rows."
    if _target_like(column.name):
        reason += " Its name marks it as an outcome."
    return TargetRecommendation(
        column=column.name,
        problem_type="classification",
        reason=reason,
        evidence=evidence,
    )


def _model_types(target: _Target | None) -> list[ModelTypeRecommendation]:
    if target is None or target.problem_type == "classification":
        return [
            ModelTypeRecommendation(
                model_type="gradient_boosting",
                reason=(
                    "Mixed numeric and categorical columns with nonlinear effects "
                    "suit boosted trees, which need no scaling and handle skewed "
                    "values."
                ),
            ),
            ModelTypeRecommendation(
                model_type="random_forest",
                reason="A robust second opinion that rarely overfits badly.",
            ),
            ModelTypeRecommendation(
                model_type="logistic_regression",
                reason=(
                    "An interpretable baseline: its coefficients show the direction "
                    "of each effect."
                ),
            ),
        ]
    return [
        ModelTypeRecommendation(
            model_type="gradient_boosting",
            reason="Captures nonlinear effects and interactions among many columns.",
        ),
        ModelTypeRecommendation(
            model_type="random_forest",
            reason="Robust to outliers and to uninformative columns.",
        ),
        ModelTypeRecommendation(
            model_type="linear_regression",
            reason=("An interpretable baseline; fit it on the log of a skewed target."),
        ),
    ]


def _summary(profile: ProfileView, targets: list[_Target], risks: list[Finding]) -> str:
    parts = [
        f"{profile.name}: {num(profile.rows)} rows, {len(profile.columns)} columns."
    ]
    if targets:
        best = targets[0]
        parts.append(
            f"{best.column.name} looks like the natural target ({best.problem_type})."
        )
    serious = [r.title for r in risks if r.severity != "info"][:3]
    if serious:
        parts.append("Main risks: " + "; ".join(serious) + ".")
    return " ".join(parts)


def _next_steps(
    targets: list[_Target],
    identifiers: list[ColumnView],
    profile: ProfileView,
    sentinel_risks: list[Finding],
) -> list[str]:
    steps = []
    if identifiers:
        names = ", ".join(c.name for c in identifiers)
        steps.append(f"Exclude {names} from the features: they identify rows.")
    mostly_missing = [
        c.name
        for c in profile.columns
        if c.missing
        and profile.rows
        and c.missing / profile.rows >= MOSTLY_MISSING_SHARE
    ]
    if mostly_missing:
        steps.append(
            "Drop " + ", ".join(mostly_missing) + ", or replace each with a "
            "filled-in flag."
        )
    for risk in sentinel_risks:
        column = profile.column(risk.columns[0])
        steps.append(
            f"Recode {column.name} = {num(column.min)} as missing, with a flag "
            "column that keeps the information."
        )
    if targets:
        best = targets[0]
        metric = (
            "recall on the rare class and ROC AUC"
            if (best.problem_type == "classification")
            else "RMSE and R²"
        )
        steps.append(
            f"Train a {best.problem_type} model on {best.column.name} and compare "
            f"it with the baseline by {metric}."
        )
    if profile.pii_columns:
        steps.append("Keep the personal-data columns out of the features.")
    steps.append("Read the model analysis after training to see what drives it.")
    return steps
