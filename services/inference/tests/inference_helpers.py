"""Telco churn models built with scikit-learn and exported as the training
service exports them, plus a stand-in for training's metadata endpoint.

scikit-learn and skl2onnx are imported here, by the tests only: the service
itself must never import them.
"""

import asyncio
import hashlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import uvicorn
from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse

DATASETS = Path(__file__).resolve().parents[3] / ".." / "shared" / "datasets"
TELCO_CSV = DATASETS / "telco-customer-churn.csv"
TELCO_NUMERIC = ["SeniorCitizen", "tenure", "MonthlyCharges", "TotalCharges"]
TELCO_ID = "customerID"
TELCO_TARGET = "Churn"


def load_telco() -> pd.DataFrame:
    """Read the Telco CSV as training would: blanks in TotalCharges become NaN."""
    frame = pd.read_csv(TELCO_CSV, dtype=str, keep_default_na=False)
    for column in TELCO_NUMERIC:
        frame[column] = pd.to_numeric(frame[column].str.strip(), errors="coerce")
    return frame


def telco_categorical(frame: pd.DataFrame, target: str) -> list[str]:
    excluded = {TELCO_ID, target, *TELCO_NUMERIC}
    return [column for column in frame.columns if column not in excluded]


@dataclass
class BuiltModel:
    metadata: dict[str, Any]
    onnx_bytes: bytes
    pipeline: Any
    numeric: list[str]
    categorical: list[str]
    held_out: pd.DataFrame


def build_telco_model(
    *,
    model_id: str,
    owner: str,
    problem_type: str = "classification",
    held_out_rows: int = 500,
    bucket: str = "narrative-models",
    n_estimators: int = 40,
) -> BuiltModel:
    """Fit a pipeline on Telco (churn, or MonthlyCharges for regression) and
    convert it to ONNX with one input per column, as the training service does.
    """
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = load_telco()
    if problem_type == "classification":
        target = TELCO_TARGET
        numeric = TELCO_NUMERIC
        estimator = RandomForestClassifier(
            n_estimators=n_estimators, max_depth=10, random_state=7, n_jobs=1
        )
    else:
        target = "MonthlyCharges"
        numeric = [c for c in TELCO_NUMERIC if c != target]
        estimator = RandomForestRegressor(
            n_estimators=n_estimators, max_depth=8, random_state=7, n_jobs=1
        )
    categorical = telco_categorical(frame, target)
    if problem_type == "regression":
        categorical = [c for c in categorical if c != TELCO_TARGET]
    held_out = frame.sample(n=held_out_rows, random_state=11)
    train = frame.drop(held_out.index)
    preprocess = ColumnTransformer(
        [
            ("numeric", SimpleImputer(strategy="median"), numeric),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )
    pipeline = Pipeline([("preprocess", preprocess), ("model", estimator)])
    features = train[numeric + categorical].copy()
    features[numeric] = features[numeric].astype(np.float32)
    pipeline.fit(features, train[target])
    inputs = [(c, FloatTensorType([None, 1])) for c in numeric] + [
        (c, StringTensorType([None, 1])) for c in categorical
    ]
    options = {id(estimator): {"zipmap": False}} if target == TELCO_TARGET else None
    onnx_model = convert_sklearn(
        pipeline, initial_types=inputs, options=options, target_opset=17
    )
    data = onnx_model.SerializeToString()
    schema = [
        {"name": c, "type": "numeric", "categories": None, "onnx_input": c}
        for c in numeric
    ] + [
        {
            "name": c,
            "type": "categorical",
            "categories": sorted(train[c].unique().tolist()),
            "onnx_input": c,
        }
        for c in categorical
    ]
    metadata = {
        "id": model_id,
        "owner": owner,
        "problem_type": problem_type,
        "model_type": type(estimator).__name__,
        "target": target,
        "class_labels": (
            [str(label) for label in estimator.classes_]
            if problem_type == "classification"
            else None
        ),
        "input_schema": schema,
        "artifact": {
            "bucket": bucket,
            "key": f"models/{owner}/{model_id}/model.onnx",
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        },
    }
    return BuiltModel(metadata, data, pipeline, numeric, categorical, held_out)


def json_rows(frame: pd.DataFrame, model: BuiltModel) -> list[dict[str, Any]]:
    """Turn frame rows into JSON records: NaN becomes null."""
    rows = []
    for record in frame[model.numeric + model.categorical].to_dict("records"):
        rows.append(
            {
                key: (None if isinstance(value, float) and np.isnan(value) else value)
                for key, value in record.items()
            }
        )
    return rows


class FakeTraining:
    """Serves GET /internal/v1/models/{id} for the models it holds, to owners only.

    Runs uvicorn in a thread on a loopback port, like the real service.
    """

    def __init__(self, internal_token: str) -> None:
        self.models: dict[str, dict[str, Any]] = {}
        self.requests = 0
        self.delay_seconds = 0.0
        app = FastAPI()

        @app.get("/health")
        async def health() -> dict:
            return {"status": "ok"}

        @app.get("/internal/v1/models/{model_id}")
        async def metadata(
            model_id: str,
            x_user_id: str = Header(""),
            x_internal_token: str = Header(""),
        ) -> JSONResponse:
            self.requests += 1
            if self.delay_seconds:
                await asyncio.sleep(self.delay_seconds)
            if x_internal_token != internal_token:
                return JSONResponse({"error": "not_authenticated"}, status_code=401)
            model = self.models.get(model_id)
            if model is None or model["owner"] != x_user_id:
                return JSONResponse(
                    {"error": "model_not_found", "message": "not found"},
                    status_code=404,
                )
            return JSONResponse(model)

        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fake training server did not start in 10 s")
            time.sleep(0.02)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
