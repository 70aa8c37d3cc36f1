"""Uploads of the real datasets and of bad files, through Traefik with API keys."""

from pathlib import Path

import pytest

from .conftest import SHARED_DATASETS, requires_shared_datasets, s3_keys

pytestmark = requires_shared_datasets

# file: (rows, {column: type}, {column: missing values})
EXPECTED = {
    "titanic.csv": (
        891,
        {
            "PassengerId": "identifier",
            "Age": "numeric",
            "Name": "text",
            "Survived": "boolean",
        },
        {"Age": 177, "Cabin": 687},
    ),
    "telco-customer-churn.csv": (
        7043,
        {"customerID": "identifier", "TotalCharges": "numeric", "Churn": "boolean"},
        {"TotalCharges": 11},
    ),
    "house-prices.csv": (
        1460,
        {"Id": "identifier", "SalePrice": "numeric", "LotFrontage": "numeric"},
        {"LotFrontage": 259},
    ),
    "bank-marketing.csv": (
        45211,
        {"pdays": "numeric", "job": "categorical", "subscribe": "boolean"},
        {},
    ),
}


@pytest.fixture(scope="module")
def uploaded(alice) -> dict[str, dict]:
    datasets = {}
    for name in EXPECTED:
        response = alice.upload(SHARED_DATASETS / name)
        assert response.status_code == 201, response.text
        datasets[name] = response.json()
    return datasets


@pytest.mark.parametrize("name", list(EXPECTED))
def test_shared_dataset_rows_types_and_missing(alice, uploaded, name):
    rows, types, missing = EXPECTED[name]
    dataset = uploaded[name]

    assert dataset["rows"] == rows
    columns = {c["name"]: c for c in dataset["columns"]}
    for column, expected_type in types.items():
        assert columns[column]["type"] == expected_type, column
    for column, count in missing.items():
        assert columns[column]["missing"] == count, column

    profile = alice.http.get(f"/api/v1/datasets/{dataset['id']}/profile")
    assert profile.status_code == 200
    assert profile.json()["rows"] == rows
    assert 0 <= profile.json()["quality"]["score"] <= 100


def test_profile_values_of_titanic(alice, uploaded):
    dataset = uploaded["titanic.csv"]

    response = alice.http.get(f"/api/v1/datasets/{dataset['id']}/profile")

    assert response.status_code == 200
    columns = {c["name"]: c for c in response.json()["columns"]}
    age = columns["Age"]
    assert age["count"] == 714
    assert age["min"] == pytest.approx(0.42)
    assert age["max"] == pytest.approx(80.0)
    assert age["mean"] == pytest.approx(29.699, abs=1e-3)


def test_preview_pages_through_rows(alice, uploaded):
    dataset = uploaded["telco-customer-churn.csv"]

    response = alice.http.get(
        f"/api/v1/datasets/{dataset['id']}/preview",
        params={"offset": 7040, "limit": 10},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 7043
    assert len(body["rows"]) == 3
    assert body["columns"][0] == "customerID"


def test_list_is_paginated_newest_first(alice, uploaded):
    response = alice.http.get("/api/v1/datasets", params={"limit": 2})

    assert response.status_code == 200
    body = response.json()
    assert body["total"] >= len(EXPECTED)
    assert len(body["items"]) == 2
    first, second = body["items"]
    assert first["created_at"] >= second["created_at"]


def test_other_user_cannot_see_or_delete(alice, mallory, uploaded):
    dataset_id = uploaded["titanic.csv"]["id"]

    listing = mallory.http.get("/api/v1/datasets")
    assert listing.status_code == 200
    assert dataset_id not in {item["id"] for item in listing.json()["items"]}
    for path in ("", "/profile", "/preview"):
        response = mallory.http.get(f"/api/v1/datasets/{dataset_id}{path}")
        assert response.status_code == 404, path
    deleted = mallory.http.delete(f"/api/v1/datasets/{dataset_id}")
    assert deleted.status_code == 404

    assert alice.http.get(f"/api/v1/datasets/{dataset_id}").status_code == 200


BAD_UPLOADS = {
    "empty.csv": (b"", "empty"),
    "header-only.csv": (b"a,b,c\n", "no data rows"),
    "binary.csv": (bytes(range(256)) * 40, "binary"),
    "table.json": (b'{"a": 1}', "extension"),
    "duplicates.csv": (b"a,b,a\n1,2,3\n", "duplicate"),
    "ragged.csv": (b"a,b,c\n1,2,3\n4,5\n6,7,8\n", "line"),
}


@pytest.mark.parametrize("filename", list(BAD_UPLOADS))
def test_bad_upload_is_rejected_and_leaves_nothing(
    analyst_factory, database, s3, stack, filename
):
    user = analyst_factory(f"bad-{filename.replace('.', '-')}")
    content, word = BAD_UPLOADS[filename]

    response = user.upload(Path(filename), content=content)

    assert 400 <= response.status_code < 500, response.text
    assert word in response.json()["message"].lower()
    assert database["user_data"].count_documents({"owner": user.name}) == 0
    assert database["user_data"].count_documents({"user_id": user.name}) == 0
    bucket = stack.env.get("S3_BUCKET_UPLOADS", "narrative-uploads")
    assert s3_keys(s3, bucket, f"raw/{user.name}/") == []
    assert s3_keys(s3, bucket, f"curated/{user.name}/") == []


def test_latin1_and_decimal_comma_files_parse(analyst_factory):
    user = analyst_factory("europe")
    latin1 = "ville;prix;note\nMünchen;1,5;très bien\nZürich;2,25;bon\nGenève;3,0;bon\n"

    response = user.upload(Path("villes.csv"), content=latin1.encode("latin-1"))

    assert response.status_code == 201, response.text
    columns = {c["name"]: c for c in response.json()["columns"]}
    assert columns["prix"]["type"] == "numeric"
    preview = user.http.get(f"/api/v1/datasets/{response.json()['id']}/preview")
    assert preview.status_code == 200
    rows = preview.json()["rows"]
    assert rows[0][0] == "München"
    assert rows[1][1] == pytest.approx(2.25)


def test_unusual_column_names_round_trip(analyst_factory):
    user = analyst_factory("unicode")
    names = ["a.b", "$price", "first name", "日本語", "naïve"]
    content = (
        ",".join(names) + "\n" + "\n".join("1,2,3,4,5" for _ in range(5))
    ).encode()

    response = user.upload(Path("names.csv"), content=content)

    assert response.status_code == 201, response.text
    fetched = user.http.get(f"/api/v1/datasets/{response.json()['id']}")
    assert [c["name"] for c in fetched.json()["columns"]] == names
