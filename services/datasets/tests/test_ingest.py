"""Unit tests of parsing, type inference, profiling, PII and quality scoring."""

from pathlib import Path

import bson
import openpyxl
import polars as pl
import pytest
from datasets_testing import dataset_path

from narrative_datasets.ingest.delimiter import detect_delimiter
from narrative_datasets.ingest.encoding import (
    detect_encoding,
    reject_binary,
    transcode_to_utf8,
)
from narrative_datasets.ingest.errors import InvalidFileError
from narrative_datasets.ingest.pii import detect_pii, luhn_valid
from narrative_datasets.ingest.pipeline import IngestLimits, ingest_file
from narrative_datasets.ingest.quality import quality_score


def ingest(path: Path, tmp_path: Path, filename: str | None = None):
    return ingest_file(path, filename or path.name, None, tmp_path)


def kinds(result) -> dict[str, str]:
    return {column.name: column.kind.value for column in result.columns}


def column_profile(result, name: str) -> dict:
    return next(c for c in result.profile["columns"] if c["name"] == name)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"a,b\n1,2\n", "utf-8"),
        (b"\xef\xbb\xbfa,b\n1,2\n", "utf-8-sig"),
        ("nom,ville\nCafé,Genève\n".encode("latin-1"), "cp1252"),
        ("a\n\u20ac5\n".encode("cp1252"), "cp1252"),
    ],
)
def test_detect_encoding(tmp_path, data, expected):
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    assert detect_encoding(path) == expected


def test_transcode_cp1252_keeps_characters(tmp_path):
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_bytes("prix\n5 \u20ac\ncafé\n".encode("cp1252") + b"\x81\n")
    transcode_to_utf8(source, target, "cp1252")
    assert target.read_text("utf-8") == "prix\n5 \u20ac\ncafé\n\x81\n"


def test_reject_binary_csv(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(InvalidFileError) as error:
        reject_binary(path, "x.csv")
    assert error.value.code == "binary_file"


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("a,b,c\n1,2,3\n", ","),
        ("a;b;c\n1,5;2,5;3\n", ";"),
        ("a\tb\n1\t2\n", "\t"),
        ("a|b|c\nx|y|z\n", "|"),
        ('name,note\n"Smith; J",x\n"Doe; K",y\n', ","),
        ("single\n1\n2\n", ","),
    ],
)
def test_detect_delimiter(sample, expected):
    assert detect_delimiter(sample) == expected


def test_titanic_types_and_profile(tmp_path):
    result = ingest(dataset_path("titanic.csv"), tmp_path)
    found = kinds(result)
    assert found["PassengerId"] == "identifier"
    assert found["Name"] == "text"
    assert found["Cabin"] == "categorical"
    assert found["Survived"] == "boolean"
    assert found["Age"] == "numeric"
    assert column_profile(result, "Age")["missing"] == 177
    cabin = column_profile(result, "Cabin")
    assert cabin["missing"] / result.profile["rows"] > 0.7
    age = column_profile(result, "Age")
    assert age["min"] == pytest.approx(0.42)
    assert age["max"] == 80
    assert age["mean"] == pytest.approx(29.699, abs=1e-3)
    assert sum(age["histogram"]["counts"]) == 714
    assert result.curated.schema["Survived"] == pl.Int64


def test_telco_types(tmp_path):
    result = ingest(dataset_path("telco-customer-churn.csv"), tmp_path)
    found = kinds(result)
    assert result.profile["rows"] == 7043
    assert found["TotalCharges"] == "numeric"
    assert column_profile(result, "TotalCharges")["missing"] == 11
    assert found["customerID"] == "identifier"
    assert found["Churn"] == "boolean"
    assert result.curated["Churn"].unique().sort().to_list() == ["No", "Yes"]
    assert result.curated.schema["TotalCharges"] == pl.Float64


def test_house_prices_na_handling(tmp_path):
    result = ingest(dataset_path("house-prices.csv"), tmp_path)
    found = kinds(result)
    assert found["LotFrontage"] == "numeric"
    assert column_profile(result, "LotFrontage")["missing"] == 259
    assert found["Alley"] == "categorical"
    assert column_profile(result, "Alley")["missing"] == 0
    assert "NA" in result.curated["Alley"].to_list()
    assert len(result.columns) == 81


def test_bank_marketing_types(tmp_path):
    result = ingest(dataset_path("bank-marketing.csv"), tmp_path)
    found = kinds(result)
    assert found["pdays"] == "numeric"
    assert found["job"] == "categorical"
    assert "unknown" in result.curated["job"].to_list()
    assert found["subscribe"] == "boolean"
    assert result.profile["rows"] == 45211


def test_semicolon_decimal_comma(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_bytes("produit;prix;qté\nCafé;1,5;2\nThé;2,25;3\n".encode("latin-1"))
    result = ingest(path, tmp_path)
    assert result.source["delimiter"] == ";"
    assert result.source["encoding"] == "cp1252"
    assert result.curated["prix"].to_list() == [1.5, 2.25]
    assert result.curated["produit"].to_list() == ["Café", "Thé"]


def test_quoted_newlines_and_blanks(tmp_path):
    path = tmp_path / "q.csv"
    path.write_bytes(b'id,note,value\n1,"line one\nline two",  \n2,plain,3.5\n')
    result = ingest(path, tmp_path)
    assert result.curated["note"].to_list() == ["line one\nline two", "plain"]
    assert result.curated["value"].to_list() == [None, 3.5]


def test_ragged_row_names_line(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(b"a,b,c\n1,2,3\n\n4,5\n")
    with pytest.raises(InvalidFileError) as error:
        ingest(path, tmp_path)
    assert error.value.code == "ragged_row"
    assert "Line 4" in error.value.message


def test_correlations_pairwise_complete(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(b"x,y,z\n1,2,\n2,4,1\n3,6,5\n4,8,2\n,10,9\n")
    result = ingest(path, tmp_path)
    correlations = result.profile["correlations"]
    assert correlations["columns"] == ["x", "y", "z"]
    assert correlations["matrix"][0][1] == pytest.approx(1.0)
    # x and z share rows 2-4 only: x = 2,3,4 and z = 1,5,2.
    expected = pl.DataFrame({"x": [2.0, 3, 4], "z": [1.0, 5, 2]}).corr()[0, 1]
    assert correlations["matrix"][0][2] == pytest.approx(expected)


def test_pii_detection():
    sample = pl.DataFrame(
        {
            "email": ["ann@example.com", "bob@example.org", "cy@mail.example.net"],
            "phone": ["+1 (555) 010-1234", "555-010-9876", "+44 20 7946 0018"],
            "card": ["4111 1111 1111 1111", "5500-0000-0000-0004", "4012888888881881"],
            "plain": ["alpha", "beta", "gamma"],
        }
    )
    found = {item["column"]: item["kind"] for item in detect_pii(sample)}
    assert found == {"email": "email", "phone": "phone", "card": "payment_card"}


def test_luhn_rejects_bad_checksum():
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")


def test_quality_score_reasons():
    profile = {
        "rows": 100,
        "missing_cells": 50,
        "duplicate_rows": 10,
        "columns": [
            {
                "name": "a",
                "kind": "numeric",
                "missing": 50,
                "distinct": 10,
                "count": 50,
            },
            {
                "name": "b",
                "kind": "categorical",
                "missing": 0,
                "distinct": 1,
                "count": 100,
            },
        ],
    }
    pii = [{"column": "b", "kind": "email", "share": 1.0}]
    quality = quality_score(profile, pii)
    codes = [reason["code"] for reason in quality["reasons"]]
    assert codes == ["missing_cells", "duplicate_rows", "constant_columns", "pii"]
    assert quality["score"] == pytest.approx(100 - 25 - 12 - 5 - 5)


def test_clean_table_scores_100(tmp_path):
    path = tmp_path / "clean.csv"
    path.write_bytes(b"a,b\n1,x\n2,y\n3,z\n")
    assert ingest(path, tmp_path).quality == {"score": 100.0, "reasons": []}


def wide_csv(path: Path, columns: int, rows: int) -> Path:
    """Write a table whose even columns are numeric and odd ones categorical."""
    lines = [",".join(f"col_{index}" for index in range(columns))]
    for row in range(rows):
        cells = [
            str(row * 1.5 + index) if index % 2 == 0 else f"group {row % 3}"
            for index in range(columns)
        ]
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_csv_over_column_limit_rejected(tmp_path):
    path = wide_csv(tmp_path / "wide.csv", 1001, 2)
    with pytest.raises(InvalidFileError) as error:
        ingest(path, tmp_path)
    assert error.value.code == "too_many_columns"
    assert "1001 columns" in error.value.message
    assert "limit of 1000" in error.value.message


def test_csv_column_limit_is_a_setting(tmp_path):
    path = wide_csv(tmp_path / "wide.csv", 6, 2)
    with pytest.raises(InvalidFileError) as error:
        ingest_file(path, path.name, None, tmp_path, IngestLimits(max_columns=5))
    assert error.value.code == "too_many_columns"


def test_wide_profile_document_bounded(tmp_path):
    path = wide_csv(tmp_path / "wide.csv", 1000, 5)
    result = ingest(path, tmp_path)
    correlations = result.profile["correlations"]
    assert len(correlations["columns"]) == 100
    assert len(correlations["matrix"]) == 100
    assert len(correlations["omitted_columns"]) == 400
    size = len(bson.encode({"profile": result.profile}))
    # Measured at about 0.8 MB; without the bound the matrix alone was 3.2 MB.
    assert size < 2 * 1024 * 1024


def test_correlations_keep_fewest_missing(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(b"a,b,c,d\n1,,1,\n2,5,2,\n3,6,,1\n4,7,4,2\n")
    result = ingest_file(
        path, path.name, None, tmp_path, IngestLimits(max_correlation_columns=2)
    )
    correlations = result.profile["correlations"]
    # Missing values: a 0, b 1, c 1, d 2, so a and the earlier of b and c stay.
    assert correlations["columns"] == ["a", "b"]
    assert correlations["omitted_columns"] == ["c", "d"]
    assert len(correlations["matrix"]) == 2


def test_overlong_column_name_rejected(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("a," + "n" * 300 + "\n1,2\n")
    with pytest.raises(InvalidFileError) as error:
        ingest(path, tmp_path)
    assert error.value.code == "column_name_too_long"
    assert "Column 2" in error.value.message


def save_workbook(workbook: openpyxl.Workbook, path: Path) -> Path:
    workbook.save(path)
    return path


def test_xlsx_used_range_over_limit_rejected(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.append(["a", "b"])
    workbook.active.append([1, 2])
    workbook.active.cell(row=5, column=1001, value="stray")
    path = save_workbook(workbook, tmp_path / "wide.xlsx")
    with pytest.raises(InvalidFileError) as error:
        ingest(path, tmp_path)
    assert error.value.code == "too_many_columns"
    assert "1001 columns" in error.value.message
    assert "A to ALM" in error.value.message


def test_xlsx_stray_cell_names_cell(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.append(["a", "b"])
    workbook.active.append([1, 2])
    workbook.active.cell(row=200, column=50, value="note")
    path = save_workbook(workbook, tmp_path / "stray.xlsx")
    with pytest.raises(InvalidFileError) as error:
        ingest(path, tmp_path)
    assert error.value.code == "unnamed_column"
    assert "AX200" in error.value.message


def test_xlsx_trailing_blank_columns_dropped(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["a", "b", " ", None, " "])
    sheet.append([1, "x", None, " "])
    sheet.append([2, "y"])
    sheet.cell(row=30, column=1, value=" ")
    path = save_workbook(workbook, tmp_path / "blank.xlsx")
    result = ingest(path, tmp_path)
    assert result.curated.columns == ["a", "b"]
    assert result.profile["rows"] == 2


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom_transcoded(tmp_path, codec):
    bom = "\ufeff".encode(codec)
    path = tmp_path / "u16.csv"
    path.write_bytes(bom + "nom,prix\nCafé,1.5\n価格,2\n".encode(codec))
    result = ingest(path, tmp_path)
    assert result.source["encoding"] == "utf-16"
    assert result.source["bom"] is True
    assert result.curated.columns == ["nom", "prix"]
    assert result.curated["nom"].to_list() == ["Café", "価格"]
    assert result.curated["prix"].to_list() == [1.5, 2.0]


def test_utf16_without_bom_rejected(tmp_path):
    path = tmp_path / "u16.csv"
    path.write_bytes("a,b\n1,2\n3,4\n".encode("utf-16-le"))
    with pytest.raises(InvalidFileError) as error:
        ingest(path, tmp_path)
    assert error.value.code == "unsupported_encoding"
    assert "UTF-16" in error.value.message
    assert "UTF-8" in error.value.message


@pytest.mark.parametrize(
    ("header", "position", "code_point"),
    [
        ('a,"b\x1bc"', 2, "U+001B"),
        ('"x\ty",b', 1, "U+0009"),
        ("a,b,c\x7f", 3, "U+007F"),
        ("a,\u202eevil", 2, "U+202E"),
        ("\u2066a\u2069,b", 1, "U+2066"),
    ],
)
def test_control_character_in_name_rejected(tmp_path, header, position, code_point):
    path = tmp_path / "names.csv"
    width = header.count(",") + 1
    # Enough rows that one control byte stays under the binary-file threshold.
    rows = (",".join(["1"] * width) + "\n") * 100
    path.write_text(header + "\n" + rows, encoding="utf-8")
    with pytest.raises(InvalidFileError) as error:
        ingest(path, tmp_path)
    assert error.value.code == "invalid_column_name"
    assert f"Column {position} " in error.value.message
    assert code_point in error.value.message


def test_xlsx_source_lists_sheets(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.title = "Data"
    workbook.active.append(["a"])
    workbook.active.append([1])
    workbook.create_sheet("Notes").append(["text"])
    path = save_workbook(workbook, tmp_path / "book.xlsx")
    result = ingest(path, tmp_path)
    assert result.source["sheet"] == "Data"
    assert result.source["sheets"] == ["Data", "Notes"]
