"""Keyed pseudonyms (HMAC-SHA256) computed by Spark's own functions, no Python UDF.

HMAC(K, m) = SHA256((K' xor opad) || SHA256((K' xor ipad) || m)), K' the key padded to the
64-byte block (RFC 2104). The two padded keys are computed once in Python; Spark only
concatenates bytes and hashes, so a million rows cost two native SHA-256 calls each. The result
equals Python's `hmac.new(key, m, sha256).hexdigest()` (tested), so a key stays the same across
engines and re-runs, and without the key nobody can recompute it from a guessed email.
"""

import hashlib

from pyspark.sql import Column
from pyspark.sql import functions as F

BLOCK_BYTES = 64


def _padded_keys(key: bytes) -> tuple[bytes, bytes]:
    if len(key) > BLOCK_BYTES:
        key = hashlib.sha256(key).digest()
    key = key.ljust(BLOCK_BYTES, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def hmac_sha256(value: Column, key: bytes) -> Column:
    """Hex HMAC-SHA256 of the UTF-8 text `value` (null stays null)."""
    if not key:
        raise ValueError("the pseudonymisation key is empty")
    inner_pad, outer_pad = _padded_keys(key)
    inner = F.unhex(F.sha2(F.concat(F.lit(inner_pad), F.encode(value, "UTF-8")), 256))
    return F.when(value.isNotNull(), F.sha2(F.concat(F.lit(outer_pad), inner), 256))


def email_key(email: Column, key: bytes) -> Column:
    """One pseudonym per mailbox however it was typed: trimmed and lower-cased first."""
    return hmac_sha256(F.lower(F.trim(email)), key)
