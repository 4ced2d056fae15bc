"""The base of the JSON request bodies the core API takes: a field it does not declare is
refused, never dropped."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["StrictBody"]


class StrictBody(BaseModel):
    """A request body that refuses undeclared fields with 422 naming the first one: a misspelt
    or misplaced field (a nested ``customer`` object) must not be stored as if it were absent."""

    model_config = ConfigDict(extra="forbid")
