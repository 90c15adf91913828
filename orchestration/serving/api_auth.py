"""Who is asking: the request's `Authorization: Bearer <key>` checked against the key store.

One FastAPI dependency per scope, attached by `create_app`'s route loop to every dataset route
(each route in `api.ROUTES` names its scope), so no endpoint checks by hand and a route cannot
be added without one. Dependencies run before the endpoint body, so a request without the
scope never reaches the page cache. `/health`, `/ready`, `/metrics` and the OpenAPI pages
carry no dependency and stay open.

The key table is held in memory and read again at most every `check_seconds` (1 s by
default): a revoked key is refused within that time, and the cached path costs no file read.
"""

import hmac
import logging
import sqlite3
import time
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from orchestration.serving.api_keys import SCOPES, ApiKey, KeyStore, hash_key

log = logging.getLogger(__name__)
# auto_error off: the 401s below say what is wrong; the scheme still shows in the OpenAPI spec.
BEARER = HTTPBearer(auto_error=False, description="an API key made by `make api-key`")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]


class NoApiKeys(RuntimeError):
    """The prod profile will not serve without keys."""


class Authenticator:
    def __init__(self, store: KeyStore | None, profile: str, check_seconds: float = 1.0):
        self.store = store
        self.profile = profile
        self.check_seconds = check_seconds
        self.open = False
        self._keys: list[ApiKey] = []
        self._load()
        where = store.path if store else "(no key store)"
        if profile == "prod" and not any(k.revoked_at is None for k in self._keys):
            raise NoApiKeys(
                f"the prod profile does not serve without API keys and {where} holds no active key:"
                " create one with `python -m orchestration.serving.keys create NAME --scopes SCOPES`"
                " (`make api-key NAME=... SCOPES=...`)"
            )
        if self.open:
            log.warning(
                "local profile and no API key in %s: serving WITHOUT keys (`make api-key` turns them on)", where
            )

    def _load(self) -> None:
        was_open = self.open
        self._keys = self.store.keys() if self.store else []
        self._loaded = time.monotonic()
        # Open only on the local profile and only while no key was ever made: revoking the last
        # key must not open the API to everyone.
        self.open = self.profile == "local" and not self._keys
        if was_open and not self.open:
            log.warning("API keys created in %s: requests now need one", self.store.path)

    def _refresh(self) -> None:
        if time.monotonic() - self._loaded < self.check_seconds:
            return
        try:
            self._load()
        except sqlite3.Error as error:  # e.g. the CLI holds the write lock: keep the keys we have
            log.warning("API key store unreadable, keeping the last keys read: %s", error)
            self._loaded = time.monotonic()

    def identify(self, key: str) -> ApiKey | None:
        digest = hash_key(key)
        found = None
        for candidate in self._keys:  # every row compared in constant time, no early exit
            if hmac.compare_digest(candidate.key_sha256, digest):
                found = candidate
        return found

    def require(self, scope: str):
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r}: the scopes are {', '.join(SCOPES)}")

        async def authorized(request: Request, credentials: Credentials):
            self._refresh()
            if self.open:
                return
            if credentials is None:
                raise _unauthorized("missing API key: send the header 'Authorization: Bearer <key>'")
            key = self.identify(credentials.credentials)
            if key is None:
                raise _unauthorized("invalid API key")
            if key.revoked_at is not None:
                raise _unauthorized("API key revoked")
            # Read by the metrics middleware: requests are counted by the key's name, never the key.
            request.state.api_key_name = key.name
            if scope not in key.scopes:
                raise HTTPException(
                    403, f"API key {key.name!r} has no scope {scope!r} (its scopes: {', '.join(sorted(key.scopes))})"
                )

        return authorized


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})
