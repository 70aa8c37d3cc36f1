"""The fact check: cited numbers against profile fields."""

from conftest import small_profile
from narrative_analysis.analysis.facts import Facts, matches
from narrative_analysis.analysis.profile import normalize_profile
from narrative_analysis.analysis.schemas import Evidence, Finding
from narrative_analysis.analysis.verify import numbers_in, verify
from narrative_analysis.local.dataset import analyze_dataset


def finding(detail: str, *evidence: Evidence) -> Finding:
    return Finding(
        title="t", detail=detail, severity="info", columns=[], evidence=list(evidence)
    )


def test_matches_allows_rounding_and_percentages():
    assert matches(0.265, 0.26537)
    assert matches(26.5, 0.26537)
    assert matches(1362, 1362.27)
    assert not matches(0.30, 0.26537)
    assert not matches(35.0, 0.26537)


def test_numbers_in_skips_names_and_small_counts():
    assert numbers_in("BsmtFinSF1 and 1stFlrSF, 3 columns") == []
    assert numbers_in("26.5% of 7,043 rows, pdays = -1") == [
        (26.5, True),
        (7043.0, False),
        (-1.0, False),
    ]


def test_facts_resolve_loose_paths():
    facts = Facts({"columns[Churn].top_values[Yes].share": 0.265})
    assert facts.get('columns["Churn"].top_values["Yes"].share') == 0.265
    assert facts.get("columns.Churn.top_values.Yes.share") == 0.265
    assert facts.get("columns[Churn].top_values[No].share") is None


def test_wrong_value_is_dropped():
    view = normalize_profile(small_profile())
    insights = analyze_dataset(view)
    insights.key_findings = [
        finding(
            "Churn is Yes for 40% of rows.",
            Evidence(value=0.40, source="columns[Churn].top_values[Yes].share"),
        ),
        finding(
            "Churn is Yes for 26.5% of rows.",
            Evidence(value=0.265, source="columns[Churn].top_values[Yes].share"),
        ),
    ]

    checked, dropped = verify(insights, view.facts())

    assert len(checked.key_findings) == 1
    assert checked.key_findings[0].detail == "Churn is Yes for 26.5% of rows."
    assert [d.reason for d in dropped] == ["value_mismatch"]
    assert "0.265" in dropped[0].detail


def test_unknown_source_and_unsourced_number_are_dropped():
    view = normalize_profile(small_profile())
    insights = analyze_dataset(view)
    insights.key_findings = [
        finding("Median income is 52,000.", Evidence(value=52000, source="income")),
        finding(
            "Cabin is missing in 77% of rows, and 90% of them churn.",
            Evidence(value=0.77, source="columns[Cabin].missing_share"),
        ),
    ]

    _, dropped = verify(insights, view.facts())

    assert [d.reason for d in dropped] == ["unknown_source", "unsourced_number"]


def test_local_analysis_passes_its_own_check():
    view = normalize_profile(small_profile())
    _, dropped = verify(analyze_dataset(view), view.facts())
    assert dropped == []


def test_datasets_service_profile_shape_is_read():
    profile = {
        "rows": 4,
        "columns": [
            {
                "name": "a",
                "kind": "numeric",
                "count": 4,
                "missing": 0,
                "distinct": 4,
                "quantiles": [{"q": 0.5, "value": 2.5}],
            },
            {"name": "b", "kind": "numeric", "count": 4, "missing": 0, "distinct": 4},
        ],
        "correlations": {"columns": ["a", "b"], "matrix": [[1.0, 0.9], [0.9, 1.0]]},
        "quality_score": {"score": 80.0, "reasons": [{"code": "x", "message": "m"}]},
        "pii_columns": [{"column": "b", "kind": "email", "share": 1.0}],
    }

    view = normalize_profile(profile)

    assert view.column("a").type == "numeric"
    assert view.column("a").median == 2.5
    assert view.correlations == [("a", "b", 0.9)]
    assert view.pii_columns == ["b"]
    assert view.quality_score == 80.0
    assert view.quality_reasons == ["m"]
