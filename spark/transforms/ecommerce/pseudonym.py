"""Keyed pseudonyms (HMAC-SHA256) computed by Spark's own `hmac` function, no Python UDF.

The result is the lower-case hex of RFC 2104 HMAC-SHA256, equal to Python's
`hmac.new(key, m, sha256).hexdigest()` and to the two-`sha2` construction the platform used
before Spark 4.3 had `hmac` (both tested), so every pseudonym already in the lake stays the
same across engines and re-runs, and without the key nobody can recompute it from a guessed email.
"""

from pyspark.sql import Column
from pyspark.sql import functions as F


def hmac_sha256(value: Column, key: bytes) -> Column:
    """Hex HMAC-SHA256 of the UTF-8 text `value` (null stays null)."""
    if not key:
        raise ValueError("the pseudonymisation key is empty")
    # F.hex is upper-case; the stored pseudonyms are lower-case, as sha2 wrote them.
    return F.lower(F.hex(F.hmac(F.lit(key), F.encode(value, "UTF-8"), F.lit("SHA-256"))))


def email_key(email: Column, key: bytes) -> Column:
    """One pseudonym per mailbox however it was typed: trimmed and lower-cased first."""
    return hmac_sha256(F.lower(F.trim(email)), key)
