"""The API's keys from the command line (`make api-key`, `make api-key-revoke`, `make api-keys`).

    python -m orchestration.serving.keys create NAME --scopes air-quality,users
    python -m orchestration.serving.keys revoke NAME
    python -m orchestration.serving.keys list

`create` prints the key once, alone on stdout (so `KEY=$(...)` captures it); the store keeps
only its hash, so a lost key is revoked and replaced, never recovered. `list` shows names,
scopes and dates, never a key. The store is `API_KEYS_PATH` (default `DATA_DIR/api_keys.sqlite`).
"""

import argparse
import sys

from orchestration.serving.api_keys import SCOPES, KeyStore, KeyStoreError, check_name, parse_scopes
from orchestration.serving.settings import from_env


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m orchestration.serving.keys", description="The API's keys.")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="make a key and print it, once")
    create.add_argument("name", help="who or what uses it; shown in /metrics and `list`")
    create.add_argument("--scopes", required=True, help=f"comma-separated, of: {','.join(SCOPES)}")
    revoke = commands.add_parser("revoke", help="refuse the key named NAME from now on")
    revoke.add_argument("name")
    commands.add_parser("list", help="every key's name, scopes and dates (never the key)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    store = KeyStore(from_env().api_keys_path)
    try:
        if args.command == "create":
            key = store.create(check_name(args.name), parse_scopes(args.scopes))
            print(key)
            print(
                f"API key {args.name!r} created in {store.path}, scopes {args.scopes}."
                " It is shown only this once: keep it now.",
                file=sys.stderr,
            )
        elif args.command == "revoke":
            store.revoke(args.name)
            print(f"API key {args.name!r} revoked.", file=sys.stderr)
        else:
            keys = store.keys()
            if not keys:
                print(f"no API keys in {store.path}", file=sys.stderr)
            for k in keys:
                state = f"revoked {k.revoked_at}" if k.revoked_at else "active"
                print(f"{k.name}\t{','.join(s for s in SCOPES if s in k.scopes)}\tcreated {k.created_at}\t{state}")
    except KeyStoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
