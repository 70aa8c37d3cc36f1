"""The benchmark's model: a random forest on Telco churn, fitted with
scikit-learn and exported to ONNX as the training service exports models
(one input per column, probabilities without ZipMap).
"""

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[3]
TELCO_CSV = REPO_ROOT / ".." / "shared" / "datasets" / "telco-customer-churn.csv"
NUMERIC = ["SeniorCitizen", "tenure", "MonthlyCharges", "TotalCharges"]
EXCLUDED = {"customerID", "Churn"}


def load_telco() -> pd.DataFrame:
    frame = pd.read_csv(TELCO_CSV, dtype=str, keep_default_na=False)
    for column in NUMERIC:
        frame[column] = pd.to_numeric(frame[column].str.strip(), errors="coerce")
    return frame


def categorical_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in EXCLUDED and c not in NUMERIC]


def build(model_id: str, owner: str, bucket: str) -> tuple[dict, bytes, object]:
    """Return (metadata, ONNX bytes, fitted scikit-learn pipeline)."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = load_telco()
    categorical = categorical_columns(frame)
    forest = RandomForestClassifier(
        n_estimators=100, max_depth=12, random_state=7, n_jobs=1
    )
    pipeline = Pipeline(
        [
            (
                "preprocess",
                ColumnTransformer(
                    [
                        ("numeric", SimpleImputer(strategy="median"), NUMERIC),
                        (
                            "categorical",
                            OneHotEncoder(handle_unknown="ignore"),
                            categorical,
                        ),
                    ]
                ),
            ),
            ("model", forest),
        ]
    )
    features = frame[NUMERIC + categorical].copy()
    features[NUMERIC] = features[NUMERIC].astype(np.float32)
    pipeline.fit(features, frame["Churn"])
    inputs = [(c, FloatTensorType([None, 1])) for c in NUMERIC] + [
        (c, StringTensorType([None, 1])) for c in categorical
    ]
    onnx_model = convert_sklearn(
        pipeline,
        initial_types=inputs,
        options={id(forest): {"zipmap": False}},
        target_opset=17,
    )
    data = onnx_model.SerializeToString()
    metadata = {
        "id": model_id,
        "owner": owner,
        "problem_type": "classification",
        "model_type": "RandomForestClassifier",
        "target": "Churn",
        "class_labels": [str(c) for c in forest.classes_],
        "input_schema": [
            {"name": c, "type": "numeric", "categories": None, "onnx_input": c}
            for c in NUMERIC
        ]
        + [
            {
                "name": c,
                "type": "categorical",
                "categories": sorted(frame[c].unique().tolist()),
                "onnx_input": c,
            }
            for c in categorical
        ],
        "artifact": {
            "bucket": bucket,
            "key": f"bench/{owner}/{model_id}/model.onnx",
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        },
    }
    return metadata, data, pipeline


def sample_record(metadata: dict) -> dict:
    """Return the first Telco row as a JSON record of the model's input columns."""
    row = load_telco().iloc[0]
    record = {}
    for column in metadata["input_schema"]:
        value = row[column["name"]]
        if column["type"] == "numeric":
            record[column["name"]] = None if pd.isna(value) else float(value)
        else:
            record[column["name"]] = str(value)
    return record


def write_batch_csv(path: Path, rows: int) -> None:
    """Write `rows` data lines by repeating the Telco file's lines."""
    lines = TELCO_CSV.read_text().splitlines()
    header, data = lines[0], lines[1:]
    with path.open("w") as handle:
        handle.write(header + "\n")
        for index in range(rows):
            handle.write(data[index % len(data)] + "\n")
