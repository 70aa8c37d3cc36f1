"""Helpers shared by the datasets service's tests."""

from pathlib import Path

import pytest

DATASETS_DIR = Path(__file__).resolve().parents[3] / ".." / "shared" / "datasets"
TOKEN = "development-internal-token"


def dataset_path(name: str) -> Path:
    path = DATASETS_DIR / name
    if not path.exists():
        pytest.skip(f"real dataset {path} is absent")
    return path


def user_headers(user: str) -> dict[str, str]:
    return {"X-Internal-Token": TOKEN, "X-User-Id": user}
