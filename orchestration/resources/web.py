"""What the HTTP sources (OpenAQ, randomuser.me) share: how a body is read, and which
failures are transient."""

import json
from typing import Any

import requests

# Transient by nature; a body cut off mid-transfer surfaces as ChunkedEncodingError.
NETWORK_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


def decode_json_body(body: bytes | str | dict) -> tuple[Any, str | None]:
    """(parsed JSON, None), or (None, why the body is unreadable): a bad page is reported,
    never raised, so the caller can keep it with its reason."""
    if isinstance(body, dict):
        return body, None
    try:
        text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body
        return json.loads(text), None
    except UnicodeDecodeError as exc:
        return None, f"body is not UTF-8: {exc}"
    except (ValueError, TypeError) as exc:
        return None, f"body is not JSON: {exc}"
