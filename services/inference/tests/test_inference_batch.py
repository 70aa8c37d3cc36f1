"""Batch CSV prediction tests on the real Telco file."""

import csv
import io

import numpy as np
import pandas as pd
import pytest
from inference_helpers import TELCO_CSV

from conftest import CLASSIFIER_ID
from narrative_inference.models import batch

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


def csv_lines(rows: list[list[str]], delimiter: str = ",") -> list[str]:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return buffer.getvalue().splitlines()


@pytest.mark.parametrize(
    ("damage", "phrase"),
    [
        ("short", "fields and the header has 21"),
        ("long", "fields and the header has 21"),
        ("quote", "quoted field is not closed"),
    ],
)
@pytest.mark.parametrize("bad_line", [3, 900])
async def test_batch_malformed_line_is_named(
    api, owner_headers, monkeypatch, damage, phrase, bad_line
):
    # Small blocks put line 900 beyond the first block, which open_csv parses.
    monkeypatch.setattr(batch, "READ_BLOCK_BYTES", 64 * 1024)
    lines = csv_lines(telco_lines(1000))
    text = lines[bad_line - 1]
    if damage == "short":
        text = text.rsplit(",", 1)[0]
    elif damage == "long":
        text += ",extra"
    else:
        text = text.replace(",", ',"', 1)
    lines[bad_line - 1] = text
    data = ("\n".join(lines) + "\n").encode()
    response = await api.post(BATCH, files=upload(data), headers=owner_headers)

    assert response.status_code == 422
    field = response.json()["fields"][0]
    assert field["field"] == f"line {bad_line}"
    assert phrase in field["message"]


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
async def test_batch_other_delimiters_are_detected(api, owner_headers, delimiter):
    rows = telco_lines(30)
    data = ("\n".join(csv_lines(rows, delimiter)) + "\n").encode()
    comma = ("\n".join(csv_lines(rows)) + "\n").encode()
    response = await api.post(BATCH, files=upload(data), headers=owner_headers)
    expected = await api.post(BATCH, files=upload(comma), headers=owner_headers)

    assert response.status_code == 200
    assert expected.status_code == 200
    assert response.headers["x-rows-predicted"] == "30"
    assert response.content == expected.content


async def test_batch_formula_cells_are_quoted(api, owner_headers):
    rows = telco_lines(4)
    customer = rows[0].index("customerID")
    charges = rows[0].index("MonthlyCharges")
    rows[0].append("=extra")
    for row in rows[1:]:
        row.append("plain")
    rows[1][customer] = '=HYPERLINK("http://example.invalid","x")'
    rows[2][customer] = "@SUM(A1)"
    rows[3][customer] = "-2+3"
    rows[4][customer] = "\tcmd"
    rows[1][charges] = "-5.5"
    response = await api.post(BATCH, files=upload(to_csv(rows)), headers=owner_headers)

    assert response.status_code == 200
    result = list(csv.reader(io.StringIO(response.text)))
    assert result[0][len(rows[0]) - 1] == "'=extra"
    assert result[1][customer] == '\'=HYPERLINK("http://example.invalid","x")'
    assert result[2][customer] == "'@SUM(A1)"
    assert result[3][customer] == "'-2+3"
    assert result[4][customer] == "'\tcmd"
    assert result[1][charges] == "-5.5"
    assert result[1][len(rows[0]) - 1] == "plain"
