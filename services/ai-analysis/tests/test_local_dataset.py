"""The local analyzer on the four shared datasets: facts that must appear."""

import pytest
from profiles import dataset_profile

from narrative_analysis.analysis.profile import normalize_profile
from narrative_analysis.analysis.schemas import DatasetInsights, Finding
from narrative_analysis.analysis.verify import verify
from narrative_analysis.local.dataset import analyze_dataset


def analyze(name: str) -> tuple[DatasetInsights, list]:
    view = normalize_profile(dataset_profile(name), {"name": name})
    insights = analyze_dataset(view)
    checked, dropped = verify(insights, view.facts())
    return checked, dropped


def find(findings: list[Finding], title_part: str) -> Finding:
    matching = [f for f in findings if title_part in f.title]
    assert matching, (
        f"no finding titled like {title_part!r}: {[f.title for f in findings]}"
    )
    return matching[0]


def all_findings(insights: DatasetInsights) -> list[Finding]:
    return insights.key_findings + insights.data_quality_risks


@pytest.mark.parametrize(
    "name",
    [
        "titanic.csv",
        "telco-customer-churn.csv",
        "house-prices.csv",
        "bank-marketing.csv",
    ],
)
def test_local_analysis_survives_fact_check(name):
    insights, dropped = analyze(name)
    assert dropped == []
    assert insights.summary
    assert insights.recommended_targets
    assert insights.recommended_model_types
    assert insights.next_steps


def test_telco_churn_is_imbalanced():
    insights, _ = analyze("telco-customer-churn.csv")

    assert insights.recommended_targets[0].column == "Churn"
    assert insights.recommended_targets[0].problem_type == "classification"
    imbalance = find(insights.data_quality_risks, "Churn is imbalanced")
    share = imbalance.evidence[0].value
    assert 0.26 <= share <= 0.27
    assert imbalance.evidence[0].source == "columns[Churn].top_values[Yes].share"
    assert "26.5%" in imbalance.detail


def test_telco_customer_id_is_an_identifier():
    insights, _ = analyze("telco-customer-churn.csv")
    find(insights.data_quality_risks, "customerID identifies rows")
    assert any("customerID" in step for step in insights.next_steps)


def test_titanic_cabin_is_mostly_missing():
    insights, _ = analyze("titanic.csv")

    cabin = find(insights.data_quality_risks, "Cabin is mostly missing")
    assert cabin.severity == "critical"
    assert 0.76 <= cabin.evidence[0].value <= 0.78
    assert insights.recommended_targets[0].column == "Survived"


def test_titanic_passenger_id_is_an_identifier():
    insights, _ = analyze("titanic.csv")
    find(insights.data_quality_risks, "PassengerId identifies rows")


def test_house_prices_sale_price_is_a_regression_target():
    insights, _ = analyze("house-prices.csv")

    target = insights.recommended_targets[0]
    assert target.column == "SalePrice"
    assert target.problem_type == "regression"
    find(insights.data_quality_risks, "Id identifies rows")
    assert insights.recommended_model_types[-1].model_type == "linear_regression"


def test_bank_imbalance_and_pdays_sentinel():
    insights, _ = analyze("bank-marketing.csv")

    assert insights.recommended_targets[0].column == "subscribe"
    imbalance = find(insights.data_quality_risks, "subscribe is imbalanced")
    assert 0.11 <= imbalance.evidence[0].value <= 0.125
    sentinel = find(insights.data_quality_risks, "pdays uses -1 as a code")
    assert sentinel.evidence[0].value == -1
    assert not [f for f in insights.key_findings if f.title == "pdays is skewed"]
