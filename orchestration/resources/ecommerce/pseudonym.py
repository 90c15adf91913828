"""The key of the keyed pseudonyms (HMAC-SHA256) that replace emails and client IPs past raw.

Prod reads it from PII_HASH_KEY (dg.EnvVar: never in code, config or logs). A local profile
without PII_HASH_KEY gets a random key generated once and kept in DATA_DIR/pii_hash_key (mode
0600), exported to the environment, so every process of the deployment (the daemon, runs,
`make run`) computes the same pseudonyms; delete the file and every key changes.
"""

import os
import secrets
from pathlib import Path

import dagster as dg

KEY_VARIABLE = "PII_HASH_KEY"


class PseudonymKeyResource(dg.ConfigurableResource):
    key: str

    def key_bytes(self) -> bytes:
        if not self.key:
            raise ValueError(f"{KEY_VARIABLE} is empty: set the pseudonymisation key")
        return self.key.encode()


def local_key_variable(data_dir: Path) -> dg.EnvVar:
    """PII_HASH_KEY from the environment or, if unset, from DATA_DIR/pii_hash_key (created once)."""
    if not os.getenv(KEY_VARIABLE):
        path = data_dir / "pii_hash_key"
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            # Written under a hidden name and linked in: a process starting at the same moment
            # finds no file or a whole one, and the first link wins.
            temporary = data_dir / f".pii_hash_key.{secrets.token_hex(4)}"
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_hex(32))
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass
            finally:
                temporary.unlink()
        os.environ[KEY_VARIABLE] = path.read_text().strip()
    return dg.EnvVar(KEY_VARIABLE)
