"""Prompts sent to OpenAI. Changing their wording means a new PROMPT_VERSION,
which is part of every cache key, so old cached results are not reused."""

import json
from typing import Any

PROMPT_VERSION = "2025-06-v1"

_RULES = """\
Rules:
- Use only the statistics given. Never invent a number.
- Every number in a finding's title or detail, a target's reason or a
  driver's explanation must appear in that item's `evidence`, with `source`
  naming the field it was read from, using these paths:
  rows, column_count, quality_score, column_types[<type>],
  columns[<name>].<count|missing|distinct|min|max|mean|std|missing_share>,
  columns[<name>].quantiles[<p50>], columns[<name>].top_values[<value>].count,
  columns[<name>].top_values[<value>].share (a fraction of rows),
  correlations[<a>,<b>], metrics.<name>, baseline_metrics.<name>,
  feature_importances[<feature>], leaderboard[<model_type>].<metric>.
- Write shares as percentages in text (26.5%) and as fractions in evidence
  (0.265). Findings whose numbers do not match their source are discarded.
- Do not put numbers in the summary or next steps unless they are fields above.
- Write for an analyst who does not code: plain words, one idea per finding,
  severity critical only for problems that make a model wrong."""

DATASET_SYSTEM = f"""\
You analyse the profile of a tabular dataset for an analyst who is about to
train a model on it. Return: a short summary; key findings with the numbers
behind them; data-quality risks (missing values, identifier columns,
sentinel codes, skew, high-cardinality categories, leakage, personal data);
recommended target columns with the problem type and the reason; recommended
model types with reasons; and next steps.
{_RULES}"""

MODEL_SYSTEM = f"""\
You analyse a trained model's metrics for an analyst who does not code.
Return: a short summary; key findings with the numbers behind them
(especially the metric against the baseline); what drives the predictions
(feature importances); weaknesses (low recall on a rare class, a metric
close to the baseline, overfitting, leakage warnings); data-quality risks
from the training warnings; and next steps.
{_RULES}"""

REPAIR = """\
Your reply did not match the required JSON schema:
{errors}
Return the complete corrected JSON object only."""


def user_message(kind: str, payload: dict[str, Any]) -> str:
    return f"{kind} statistics (JSON):\n" + json.dumps(
        payload, ensure_ascii=False, default=str, separators=(",", ":")
    )
