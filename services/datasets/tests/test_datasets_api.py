"""API tests against real MongoDB and S3 (SecantusDB and SeaweedFS)."""

import asyncio
import io
import uuid

import openpyxl
import pytest
from datasets_testing import dataset_path, user_headers

from narrative_datasets.ingest.pipeline import IngestLimits


def new_user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


async def upload(client, user, filename, data, content_type="text/csv", **fields):
    return await client.post(
        "/api/v1/datasets",
        headers=user_headers(user),
        files={"file": (filename, data, content_type)},
        data=fields,
    )


async def stored_state(app, user: str) -> tuple[int, list[str]]:
    service = app.state.datasets
    documents = await service.repository.collection.count_documents({"user_id": user})
    raw = await service.store.keys(service.bucket, f"raw/{user}/")
    curated = await service.store.keys(service.bucket, f"curated/{user}/")
    return documents, raw + curated


async def test_upload_titanic_returns_types(client, app):
    user = new_user()
    response = await upload(
        client, user, "titanic.csv", dataset_path("titanic.csv").read_bytes()
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["rows"] == 891
    types = {column["name"]: column["type"] for column in body["columns"]}
    assert types["PassengerId"] == "identifier"
    assert types["Name"] == "text"
    assert types["Survived"] == "boolean"
    missing = {column["name"]: column["missing"] for column in body["columns"]}
    assert missing["Age"] == 177
    assert 0 < body["quality"]["score"] < 100
    documents, keys = await stored_state(app, user)
    assert documents == 1
    assert sorted(keys) == sorted(
        [f"raw/{user}/{body['id']}/titanic.csv", f"curated/{user}/{body['id']}.parquet"]
    )


async def test_telco_total_charges_numeric(client):
    data = dataset_path("telco-customer-churn.csv").read_bytes()
    response = await upload(client, new_user(), "telco.csv", data)
    assert response.status_code == 201, response.text
    columns = {column["name"]: column for column in response.json()["columns"]}
    assert response.json()["rows"] == 7043
    assert columns["TotalCharges"]["type"] == "numeric"
    assert columns["TotalCharges"]["missing"] == 11
    assert columns["Churn"]["type"] == "boolean"


async def test_get_preview_and_profile(client):
    user = new_user()
    created = await upload(
        client, user, "titanic.csv", dataset_path("titanic.csv").read_bytes()
    )
    assert created.status_code == 201
    dataset_id = created.json()["id"]

    fetched = await client.get(
        f"/api/v1/datasets/{dataset_id}", headers=user_headers(user)
    )
    assert fetched.status_code == 200
    assert fetched.json()["id"] == dataset_id

    preview = await client.get(
        f"/api/v1/datasets/{dataset_id}/preview?offset=5&limit=3",
        headers=user_headers(user),
    )
    assert preview.status_code == 200
    body = preview.json()
    assert body["total"] == 891
    assert len(body["rows"]) == 3
    age = body["columns"].index("Age")
    assert body["rows"][0][age] is None  # passenger 6 has no age
    assert body["rows"][0][body["columns"].index("PassengerId")] == "6"

    profile = await client.get(
        f"/api/v1/datasets/{dataset_id}/profile", headers=user_headers(user)
    )
    assert profile.status_code == 200
    columns = {column["name"]: column for column in profile.json()["columns"]}
    assert columns["Age"]["missing"] == 177
    assert len(columns["Fare"]["histogram"]["counts"]) == 20
    correlations = profile.json()["correlations"]
    assert "Age" in correlations["columns"]
    index = correlations["columns"].index("Age")
    assert correlations["matrix"][index][index] == pytest.approx(1.0)

    internal = await client.get(
        f"/internal/v1/datasets/{dataset_id}", headers=user_headers(user)
    )
    assert internal.status_code == 200
    assert internal.json()["curated_object"]["key"].endswith(f"{dataset_id}.parquet")


async def test_other_user_gets_404(client):
    owner = new_user()
    created = await upload(client, owner, "t.csv", b"a,b\n1,x\n2,y\n")
    assert created.status_code == 201
    dataset_id = created.json()["id"]
    other = user_headers(new_user())
    for method, path in [
        ("GET", f"/api/v1/datasets/{dataset_id}"),
        ("GET", f"/api/v1/datasets/{dataset_id}/preview"),
        ("GET", f"/api/v1/datasets/{dataset_id}/profile"),
        ("GET", f"/internal/v1/datasets/{dataset_id}"),
        ("DELETE", f"/api/v1/datasets/{dataset_id}"),
    ]:
        response = await client.request(method, path, headers=other)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"] == "dataset_not_found"


async def test_list_pages_newest_first(client):
    user = new_user()
    ids = []
    for index in range(3):
        created = await upload(client, user, f"d{index}.csv", b"a,b\n1,2\n3,4\n")
        assert created.status_code == 201
        ids.append(created.json()["id"])
    first = await client.get("/api/v1/datasets?limit=2", headers=user_headers(user))
    assert first.status_code == 200
    assert first.json()["total"] == 3
    assert [item["id"] for item in first.json()["items"]] == [ids[2], ids[1]]
    second = await client.get(
        "/api/v1/datasets?limit=2&offset=2", headers=user_headers(user)
    )
    assert [item["id"] for item in second.json()["items"]] == [ids[0]]


async def test_unusual_column_names_round_trip(client):
    names = ["price.usd", "$cost", "first name", "città", "価格", "a.b$c d"]
    header = ",".join(f'"{name}"' for name in names)
    data = (header + "\n" + ",".join(["1"] * len(names)) + "\n").encode()
    user = new_user()
    created = await upload(client, user, "names.csv", data)
    assert created.status_code == 201, created.text
    dataset_id = created.json()["id"]
    assert [c["name"] for c in created.json()["columns"]] == names
    profile = await client.get(
        f"/api/v1/datasets/{dataset_id}/profile", headers=user_headers(user)
    )
    assert [c["name"] for c in profile.json()["columns"]] == names
    preview = await client.get(
        f"/api/v1/datasets/{dataset_id}/preview", headers=user_headers(user)
    )
    assert preview.json()["columns"] == names


async def test_latin1_and_decimal_comma_parse(client):
    latin1 = "nom;prix;ville\nCafé;1,5;Genève\nThé;2,25;Zürich\n".encode("latin-1")
    created = await upload(client, new_user(), "prix.csv", latin1)
    assert created.status_code == 201, created.text
    body = created.json()
    assert [c["name"] for c in body["columns"]] == ["nom", "prix", "ville"]
    assert body["columns"][1]["type"] == "numeric"
    assert body["source"]["encoding"] == "cp1252"
    assert body["source"]["delimiter"] == ";"
    assert body["source"]["decimal_comma"] is True


async def test_xlsx_sheet_by_name(client):
    workbook = openpyxl.Workbook()
    workbook.active.title = "First"
    workbook.active.append(["x"])
    workbook.active.append([1])
    other = workbook.create_sheet("Second")
    other.append(["city", "amount"])
    other.append(["Oslo", 2.5])
    other.append(["Lima", 3])
    buffer = io.BytesIO()
    workbook.save(buffer)
    data = buffer.getvalue()
    created = await upload(client, new_user(), "book.xlsx", data, sheet="Second")
    assert created.status_code == 201, created.text
    assert [c["name"] for c in created.json()["columns"]] == ["city", "amount"]
    assert created.json()["source"]["sheet"] == "Second"
    assert created.json()["source"]["sheets"] == ["First", "Second"]
    missing = await upload(client, new_user(), "book.xlsx", data, sheet="Third")
    assert missing.status_code == 400
    assert "'First'" in missing.json()["message"]
    assert "'Second'" in missing.json()["message"]


BAD_INPUTS = [
    ("empty.csv", b"", 400, "empty_file"),
    ("header.csv", b"a,b,c\n", 400, "no_rows"),
    ("binary.csv", bytes(range(256)) * 20, 400, "binary_file"),
    ("data.json", b'{"a": 1}', 415, "unsupported_file_type"),
    ("dupes.csv", b"a,b,a\n1,2,3\n", 400, "duplicate_columns"),
    ("ragged.csv", b"a,b,c\n1,2,3\n4,5\n", 400, "ragged_row"),
    ("big.csv", b"a\n" + b"1\n" * (3 * 1024 * 1024), 413, "file_too_large"),
]


@pytest.mark.parametrize(("filename", "data", "status", "code"), BAD_INPUTS)
async def test_bad_input_leaves_nothing(client, app, filename, data, status, code):
    user = new_user()
    response = await upload(client, user, filename, data)
    assert response.status_code == status, response.text
    assert response.json()["error"] == code
    assert await stored_state(app, user) == (0, [])


async def test_late_parse_failure_removes_raw(client, app, monkeypatch):
    # The raw object is uploaded while the file is parsed, so a ragged row
    # near the end of a 4 MB file fails after that upload has started.
    service = app.state.datasets
    put_file = service.store.put_file
    finished: list[str] = []

    async def recording_put_file(bucket, key, path, content_type):
        await put_file(bucket, key, path, content_type)
        finished.append(key)

    monkeypatch.setattr(service.store, "put_file", recording_put_file)
    rows = b"".join(f"{i},{i * 3},name-{i}\n".encode() for i in range(200_000))
    data = b"a,b,c\n" + rows + b"1,2\n" + b"7,8,9\n" * 10
    user = new_user()
    response = await upload(client, user, "late.csv", data)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "ragged_row"
    assert [key.split("/")[0] for key in finished] == ["raw"]
    assert await stored_state(app, user) == (0, [])


async def test_ragged_row_names_line(client):
    response = await upload(client, new_user(), "r.csv", b'a,b\n1,"x\ny"\n3,4,5\n')
    assert response.status_code == 400
    assert "Line 4" in response.json()["message"]


async def test_missing_file_field_is_422(client):
    response = await client.post(
        "/api/v1/datasets",
        headers=user_headers(new_user()),
        files={"other": ("a.csv", b"a\n1\n")},
    )
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "body.file"


async def test_delete_removes_objects_and_metadata(client, app, siblings):
    user = new_user()
    created = await upload(client, user, "d.csv", b"a,b\n1,2\n")
    dataset_id = created.json()["id"]
    response = await client.delete(
        f"/api/v1/datasets/{dataset_id}", headers=user_headers(user)
    )
    assert response.status_code == 204
    assert await stored_state(app, user) == (0, [])
    assert ("delete_analyses", dataset_id) in siblings.calls


async def test_delete_with_models_conflicts(client, app, siblings):
    user = new_user()
    created = await upload(client, user, "d.csv", b"a,b\n1,2\n")
    dataset_id = created.json()["id"]
    siblings.models[dataset_id] = [{"id": "m1", "name": "churn model"}]
    response = await client.delete(
        f"/api/v1/datasets/{dataset_id}", headers=user_headers(user)
    )
    assert response.status_code == 409
    assert "churn model" in response.json()["message"]
    assert (await stored_state(app, user))[0] == 1

    cascade = await client.delete(
        f"/api/v1/datasets/{dataset_id}?cascade=true", headers=user_headers(user)
    )
    assert cascade.status_code == 204
    assert ("delete_model", "m1") in siblings.calls
    assert await stored_state(app, user) == (0, [])


async def test_delete_with_training_down_is_503(client, app):
    user = new_user()
    created = await upload(client, user, "d.csv", b"a,b\n1,2\n")
    dataset_id = created.json()["id"]
    service = app.state.datasets
    training = service.dependents.training
    original = training._client.base_url
    training._client.base_url = "http://127.0.0.1:9"
    try:
        response = await client.delete(
            f"/api/v1/datasets/{dataset_id}", headers=user_headers(user)
        )
    finally:
        training._client.base_url = original
    assert response.status_code == 503
    documents, keys = await stored_state(app, user)
    assert documents == 1
    assert len(keys) == 2


async def test_half_done_delete_finishes_on_retry(client, app):
    user = new_user()
    created = await upload(client, user, "d.csv", b"a,b\n1,2\n")
    dataset_id = created.json()["id"]
    await app.state.datasets.repository.mark_deleting(user, dataset_id)
    hidden = await client.get(
        f"/api/v1/datasets/{dataset_id}", headers=user_headers(user)
    )
    assert hidden.status_code == 404
    response = await client.delete(
        f"/api/v1/datasets/{dataset_id}", headers=user_headers(user)
    )
    assert response.status_code == 204
    assert await stored_state(app, user) == (0, [])


def numeric_table(columns: int, rows: int) -> bytes:
    lines = [",".join(f"x{index}" for index in range(columns))]
    for row in range(rows):
        lines.append(",".join(str(row * index + row * row) for index in range(columns)))
    return ("\n".join(lines) + "\n").encode()


async def test_too_many_columns_is_400(client, app):
    user = new_user()
    response = await upload(client, user, "wide.csv", numeric_table(1001, 2))
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "too_many_columns"
    assert "1001 columns" in response.json()["message"]
    assert "limit of 1000" in response.json()["message"]
    assert await stored_state(app, user) == (0, [])


async def test_oversized_metadata_leaves_nothing(client, app, monkeypatch):
    # Lifting both limits lets a 1,300-column correlation matrix (about 23 MB
    # of BSON) reach MongoDB's 16 MB document limit.
    service = app.state.datasets
    monkeypatch.setattr(service, "limits", IngestLimits(1300, 1300))
    user = new_user()
    response = await upload(client, user, "wide.csv", numeric_table(1300, 3))
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "profile_too_large"
    assert "1300-column" in response.json()["message"]
    assert await stored_state(app, user) == (0, [])


def multipart_body(boundary: str, parts: list[tuple[str, str, bytes]]) -> bytes:
    """Build a multipart/form-data body from (field, filename, content) parts."""
    chunks = []
    for field, filename, content in parts:
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
            f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
    return b"".join(chunks) + f"--{boundary}--\r\n".encode()


async def post_raw(client, user: str, boundary: str, body: bytes):
    headers = user_headers(user)
    headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    return await client.post("/api/v1/datasets", headers=headers, content=body)


async def test_truncated_upload_is_400(client, app):
    table = b"a,b\n" + b"".join(f"{i},{i * 2}\n".encode() for i in range(2000))
    body = multipart_body("cut-here", [("file", "t.csv", table)])
    user = new_user()
    response = await post_raw(client, user, "cut-here", body[: len(body) // 2])
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "incomplete_upload"
    assert "incomplete" in response.json()["message"]
    assert await stored_state(app, user) == (0, [])


async def test_complete_raw_upload_is_stored(client):
    table = b"a,b\n1,2\n3,4\n"
    body = multipart_body("whole", [("file", "t.csv", table)])
    response = await post_raw(client, new_user(), "whole", body)
    assert response.status_code == 201, response.text
    assert response.json()["rows"] == 2


async def test_two_file_parts_are_400(client, app):
    body = multipart_body(
        "two-files",
        [("file", "a.csv", b"a,b\n1,2\n"), ("file", "b.csv", b"a,b\n3,4\n")],
    )
    user = new_user()
    response = await post_raw(client, user, "two-files", body)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "multiple_files"
    assert "exactly one file" in response.json()["message"]
    assert await stored_state(app, user) == (0, [])


@pytest.mark.parametrize("bad_id", ["%00", "x" * 5000, "6B12F5CE2201F7436D5D09ED", "1"])
async def test_malformed_id_is_422(client, bad_id):
    headers = user_headers(new_user())
    for method, path in [
        ("GET", f"/api/v1/datasets/{bad_id}"),
        ("GET", f"/api/v1/datasets/{bad_id}/preview"),
        ("GET", f"/api/v1/datasets/{bad_id}/profile"),
        ("DELETE", f"/api/v1/datasets/{bad_id}"),
        ("GET", f"/internal/v1/datasets/{bad_id}"),
        ("GET", f"/internal/v1/datasets/{bad_id}/profile"),
    ]:
        response = await client.request(method, path, headers=headers)
        assert response.status_code == 422, (method, path)
        fields = [item["field"] for item in response.json()["fields"]]
        assert fields == ["path.dataset_id"], (method, path)
        assert len(response.text) < 1000, (method, path)


class RecordingLog:
    """Stand-in for a module's structlog logger that keeps the event names."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def _record(self, event: str, **fields) -> None:
        self.events.append(event)

    info = warning = error = debug = _record


async def test_concurrent_deletes_delete_once(client, app, siblings, monkeypatch):
    from narrative_datasets.datasets import service as service_module

    user = new_user()
    created = await upload(client, user, "d.csv", b"a,b\n1,2\n")
    assert created.status_code == 201
    dataset_id = created.json()["id"]
    recorder = RecordingLog()
    monkeypatch.setattr(service_module, "log", recorder)
    calls_before = len(siblings.calls)

    responses = await asyncio.gather(
        *(
            client.delete(f"/api/v1/datasets/{dataset_id}", headers=user_headers(user))
            for _ in range(5)
        )
    )

    statuses = [response.status_code for response in responses]
    assert all(status in (204, 404) for status in statuses), statuses
    assert recorder.events.count("dataset.deleted") == 1
    analyses_deletes = [
        call for call in siblings.calls[calls_before:] if call[0] == "delete_analyses"
    ]
    assert len(analyses_deletes) == 1
    assert await stored_state(app, user) == (0, [])


async def test_failed_cascade_restores_ready(client, app, siblings):
    user = new_user()
    created = await upload(client, user, "d.csv", b"a,b\n1,2\n")
    dataset_id = created.json()["id"]
    siblings.fail_analyses_delete = True
    try:
        response = await client.delete(
            f"/api/v1/datasets/{dataset_id}", headers=user_headers(user)
        )
    finally:
        siblings.fail_analyses_delete = False
    assert response.status_code == 503, response.text
    fetched = await client.get(
        f"/api/v1/datasets/{dataset_id}", headers=user_headers(user)
    )
    assert fetched.status_code == 200
    retried = await client.delete(
        f"/api/v1/datasets/{dataset_id}", headers=user_headers(user)
    )
    assert retried.status_code == 204
    assert await stored_state(app, user) == (0, [])


async def test_delete_with_active_jobs_conflicts(client, app, siblings):
    user = new_user()
    created = await upload(client, user, "d.csv", b"a,b\n1,2\n")
    dataset_id = created.json()["id"]
    siblings.models[dataset_id] = [{"id": "m7", "name": "churn model"}]
    siblings.active_jobs[dataset_id] = [{"id": "j1", "state": "running"}]

    response = await client.delete(
        f"/api/v1/datasets/{dataset_id}", headers=user_headers(user)
    )

    assert response.status_code == 409, response.text
    message = response.json()["message"]
    assert "churn model" in message
    assert "j1 (running)" in message
    assert (await stored_state(app, user))[0] == 1


async def test_delete_with_only_jobs_conflicts(client, siblings):
    user = new_user()
    created = await upload(client, user, "d.csv", b"a,b\n1,2\n")
    dataset_id = created.json()["id"]
    siblings.active_jobs[dataset_id] = [{"id": "j2", "state": "queued"}]
    response = await client.delete(
        f"/api/v1/datasets/{dataset_id}", headers=user_headers(user)
    )
    assert response.status_code == 409, response.text
    assert "j2 (queued)" in response.json()["message"]


async def test_cascade_cancels_jobs_first(client, app, siblings):
    user = new_user()
    created = await upload(client, user, "d.csv", b"a,b\n1,2\n")
    dataset_id = created.json()["id"]
    siblings.models[dataset_id] = [{"id": "m8", "name": "churn model"}]
    siblings.active_jobs[dataset_id] = [{"id": "j3", "state": "running"}]
    calls_before = len(siblings.calls)

    response = await client.delete(
        f"/api/v1/datasets/{dataset_id}?cascade=true", headers=user_headers(user)
    )

    assert response.status_code == 204, response.text
    actions = [
        call
        for call in siblings.calls[calls_before:]
        if call[0] in ("cancel_jobs", "delete_model", "delete_analyses")
    ]
    assert actions == [
        ("cancel_jobs", dataset_id),
        ("delete_model", "m8"),
        ("delete_analyses", dataset_id),
    ]
    assert await stored_state(app, user) == (0, [])
