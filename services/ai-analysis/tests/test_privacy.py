"""Values of PII columns never reach OpenAI."""

import json

from servers import Reply

from conftest import PII_EMAIL, PII_PHONE_MIN, small_profile
from narrative_analysis.analysis.model_info import normalize_model
from narrative_analysis.analysis.profile import normalize_profile
from narrative_analysis.analysis.schemas import DatasetInsights
from narrative_analysis.llm.prompts import user_message
from narrative_analysis.local.dataset import analyze_dataset


def test_pii_values_are_stripped_from_the_prompt_payload():
    view = normalize_profile(small_profile())
    text = json.dumps(view.to_prompt())

    assert "email" in text
    assert PII_EMAIL not in text
    assert str(PII_PHONE_MIN) not in text
    assert "4155559999" not in text
    assert "C-0001" not in text
    assert view.column("email").pii is True


async def test_pii_values_never_reach_openai(fake_openai, make_client):
    view = normalize_profile(small_profile())
    fake_openai.reset(Reply(content=analyze_dataset(view).model_dump_json()))
    client = make_client()
    messages = [{"role": "user", "content": user_message("Dataset", view.to_prompt())}]

    await client.structured(messages, DatasetInsights, "dataset_insights")

    sent = fake_openai.prompts()
    assert "tenure" in sent
    assert PII_EMAIL not in sent
    assert str(PII_PHONE_MIN) not in sent


def test_model_features_named_after_pii_values_are_merged():
    metadata = {
        "feature_importances": [
            {"feature": f"email={PII_EMAIL}", "importance": 0.1},
            {"feature": "email=bob@example.com", "importance": 0.05},
            {"feature": "tenure", "importance": 0.85},
        ]
    }
    view = normalize_model(metadata, {"email"})

    assert PII_EMAIL not in json.dumps(view.to_prompt())
    assert dict(view.feature_importances)["email"] == 0.1 + 0.05
