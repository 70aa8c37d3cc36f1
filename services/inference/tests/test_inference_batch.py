"""Batch CSV prediction tests on the real Telco file."""

import csv
import io

import numpy as np
import pandas as pd
from inference_helpers import TELCO_CSV

from conftest import CLASSIFIER_ID

BATCH = f"/api/v1/models/{CLASSIFIER_ID}/predict/batch"


def upload(data: bytes) -> dict:
    return {"file": ("rows.csv", data, "text/csv")}


async def test_batch_round_trip_keeps_rows_and_columns(api, owner_headers, telco):
    source = TELCO_CSV.read_bytes()
    response = await api.post(BATCH, files=upload(source), headers=owner_headers)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    result = pd.read_csv(io.BytesIO(response.content), dtype=str, keep_default_na=False)
    original = pd.read_csv(TELCO_CSV, dtype=str, keep_default_na=False)
    assert len(result) == len(original) == 7043
    assert response.headers["x-rows-predicted"] == "7043"
    assert list(result.columns) == [
        *original.columns,
        "prediction",
        "probability_No",
        "probability_Yes",
    ]
    pd.testing.assert_frame_equal(result[original.columns], original)


async def test_batch_matches_sklearn(api, owner_headers, telco):
    held_out = telco.held_out
    buffer = io.StringIO()
    raw = pd.read_csv(TELCO_CSV, dtype=str, keep_default_na=False)
    raw.loc[held_out.index].to_csv(buffer, index=False)
    response = await api.post(
        BATCH, files=upload(buffer.getvalue().encode()), headers=owner_headers
    )

    assert response.status_code == 200
    result = pd.read_csv(io.BytesIO(response.content))
    features = held_out[telco.numeric + telco.categorical].copy()
    features[telco.numeric] = features[telco.numeric].astype(np.float32)
    expected = telco.pipeline.predict_proba(features)[:, 1]
    assert np.abs(result["probability_Yes"].to_numpy() - expected).max() < 1e-5
    assert result["prediction"].tolist() == telco.pipeline.predict(features).tolist()


async def test_batch_across_chunks_keeps_order(api, owner_headers, telco):
    settings = api.app.state.settings
    previous = settings.batch_chunk_rows
    settings.batch_chunk_rows = 1000
    try:
        source = TELCO_CSV.read_bytes()
        response = await api.post(BATCH, files=upload(source), headers=owner_headers)
    finally:
        settings.batch_chunk_rows = previous

    assert response.status_code == 200
    result = pd.read_csv(io.BytesIO(response.content), dtype=str)
    original = pd.read_csv(TELCO_CSV, dtype=str)
    assert result["customerID"].tolist() == original["customerID"].tolist()


def telco_lines(count: int) -> list[list[str]]:
    with TELCO_CSV.open(newline="") as handle:
        reader = csv.reader(handle)
        return [row for _, row in zip(range(count + 1), reader, strict=False)]


def to_csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


async def test_batch_bad_number_names_line_and_column(api, owner_headers):
    rows = telco_lines(20)
    tenure = rows[0].index("tenure")
    rows[12][tenure] = "twelve"
    response = await api.post(BATCH, files=upload(to_csv(rows)), headers=owner_headers)

    assert response.status_code == 422
    fields = response.json()["fields"]
    assert fields[0]["field"] == "line 13, column tenure"
    assert "'twelve' is not a number" in fields[0]["message"]


async def test_batch_infinity_names_line_and_column(api, owner_headers):
    rows = telco_lines(5)
    charges = rows[0].index("MonthlyCharges")
    rows[3][charges] = "inf"
    response = await api.post(BATCH, files=upload(to_csv(rows)), headers=owner_headers)

    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "line 4, column MonthlyCharges"


async def test_batch_missing_column_is_rejected(api, owner_headers):
    rows = telco_lines(5)
    contract = rows[0].index("Contract")
    rows = [row[:contract] + row[contract + 1 :] for row in rows]
    response = await api.post(BATCH, files=upload(to_csv(rows)), headers=owner_headers)

    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "line 1, column Contract"


async def test_batch_blank_total_charges_is_imputed(api, owner_headers):
    # Telco has rows whose TotalCharges is a blank string.
    raw = pd.read_csv(TELCO_CSV, dtype=str, keep_default_na=False)
    blanks = raw[raw["TotalCharges"].str.strip() == ""]
    response = await api.post(
        BATCH,
        files=upload(blanks.to_csv(index=False).encode()),
        headers=owner_headers,
    )

    assert len(blanks) > 0
    assert response.status_code == 200
    result = pd.read_csv(io.BytesIO(response.content))
    assert len(result) == len(blanks)
    assert result["probability_Yes"].notna().all()


async def test_batch_unseen_category_is_counted(api, owner_headers):
    rows = telco_lines(5)
    contract = rows[0].index("Contract")
    rows[2][contract] = "Ten year"
    response = await api.post(BATCH, files=upload(to_csv(rows)), headers=owner_headers)

    assert response.status_code == 200
    assert response.headers["x-unseen-categories"] == "Contract=1"


async def test_batch_header_only_is_rejected(api, owner_headers):
    rows = telco_lines(0)
    response = await api.post(BATCH, files=upload(to_csv(rows)), headers=owner_headers)

    assert response.status_code == 422
    assert "no rows" in response.json()["message"]


async def test_batch_without_file_field_is_rejected(api, owner_headers):
    response = await api.post(
        BATCH, files={"other": ("a.csv", b"a\n1\n")}, headers=owner_headers
    )

    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "body.file"


async def test_batch_other_user_gets_404(api, other_headers):
    rows = telco_lines(3)
    response = await api.post(BATCH, files=upload(to_csv(rows)), headers=other_headers)

    assert response.status_code == 404
