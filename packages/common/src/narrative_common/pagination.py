"""Offset pagination shared by every list endpoint."""

from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

T = TypeVar("T")

MAX_PAGE_SIZE = 100
# MongoDB takes skip as a 64-bit integer; no list comes near this many items.
MAX_OFFSET = 1_000_000_000


class PageParams(BaseModel):
    limit: int
    offset: int


async def page_params(
    limit: int = Query(20, ge=1, le=MAX_PAGE_SIZE, description="Items per page."),
    offset: int = Query(
        0, ge=0, le=MAX_OFFSET, description="Items to skip, newest first."
    ),
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


class Page(BaseModel, Generic[T]):
    """One page of a list, newest first."""

    items: list[T]
    total: int
    limit: int
    offset: int


Pagination = Annotated[PageParams, Depends(page_params)]
