"""Resource ids: MongoDB ObjectIds as 24 lowercase hex characters."""

import re
from typing import Annotated

from bson import ObjectId
from fastapi import Path

OBJECT_ID_PATTERN = r"^[0-9a-f]{24}$"
_OBJECT_ID = re.compile(OBJECT_ID_PATTERN)

# A path parameter that must look like an id, so a malformed one gets a 422
# naming the parameter and never reaches a query or a sibling's URL.
ResourceId = Annotated[
    str,
    Path(
        pattern=OBJECT_ID_PATTERN,
        description="Id of the resource: 24 lowercase hexadecimal characters.",
        examples=["6b12f5ce2201f7436d5d09ed"],
    ),
]


def is_object_id(value: str) -> bool:
    return bool(_OBJECT_ID.match(value))


def new_id() -> str:
    return str(ObjectId())
