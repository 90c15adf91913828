"""Topic contracts: one versioned JSON Schema (draft 2020-12) per topic, kept in the repo.

Files are named ``contracts/<topic>.v<N>.json``; the highest N is the topic's current contract.
Producers validate before writing and consumers validate again after reading, so a schema change
is a new file (and a new ``schema_version`` header), never an edit of a published one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

CONTRACTS_DIR = Path(__file__).with_name("contracts")
_FILE_NAME = re.compile(r"^(?P<topic>.+)\.v(?P<version>\d+)\.json$")


@dataclass(frozen=True, eq=False)
class Contract:
    topic: str
    version: int
    schema: Mapping[str, Any] = field(repr=False)

    @cached_property
    def validator(self) -> Draft202012Validator:
        # No format checker on purpose: the Schema Registry serializer asserts none either, so a
        # value valid here is valid there. Formats that matter (UUIDs, timestamps) are patterns.
        return Draft202012Validator(self.schema)

    @cached_property
    def is_valid(self) -> Callable[[Any], bool]:
        """A compiled check of the same schema (jsonschema-rs, in Rust: about 5x the generated
        Python of fastjsonschema on the OpenAQ envelope): every message of every topic passes
        through it, and the interpreted validator would be most of that cost. Formats are not
        asserted, as the reference validator does not assert them either."""
        return jsonschema_rs.Draft202012Validator(self.schema, validate_formats=False).is_valid

    def error(self, value: Any) -> str | None:
        """None when `value` conforms, else one readable reason: the most relevant violation."""
        if self.is_valid(value):
            return None
        # The slow validator only for the rare failure: it gives the readable reason.
        error = best_match(self.validator.iter_errors(value))
        if error is None:
            return None
        return f"schema: {error.message} at {error.json_path}"


@cache
def contracts() -> dict[str, Contract]:
    """The current (highest-version) contract of every topic, by topic name."""
    current: dict[str, Contract] = {}
    for path in sorted(CONTRACTS_DIR.glob("*.json")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise ValueError(f"contract file {path.name} is not named <topic>.v<N>.json")
        schema = json.loads(path.read_text(encoding="utf-8"))
        # A broken schema must fail at import in CI, not silently accept everything in prod.
        Draft202012Validator.check_schema(schema)
        topic, version = match["topic"], int(match["version"])
        if topic not in current or current[topic].version < version:
            current[topic] = Contract(topic=topic, version=version, schema=schema)
    return current


def contract_for(topic: str) -> Contract:
    try:
        return contracts()[topic]
    except KeyError:
        raise KeyError(f"no contract for topic {topic!r}; known: {sorted(contracts())}") from None


def schema_version(topic: str) -> str:
    """The value of the ``schema_version`` header for messages written to `topic` now."""
    return str(contract_for(topic).version)
