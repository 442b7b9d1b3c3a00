"""`python -m review` verify TARGET, migrate DB, new-token NAME.

`verify` checks a review database (a SQLite path or a `postgresql://` URL) or an export
bundle (`.zip`) and prints one sentence: exit 0 when intact, 1 when something is broken
(the sentence names the first broken member or event), 2 when it cannot be checked at all
(no such file, database unreachable, unreadable key). The audit key comes from
`--key-file PATH`, else from `SIGNOFF_AUDIT_KEY`; without one, keyed events cannot be
checked and say so.

`migrate` creates or upgrades the schema and exits, so a deployment can run it once as the
role that owns the tables (`--app-role ROLE` then grants the app servers' role what they
need, no more) and run the app servers as a role that cannot alter or un-guard them
(docs/deploy/README.md).

`new-token` makes a token for a person and prints it once, with the line that lets them
sign in: paste that line under `[users]` in the users file (`SIGNOFF_USERS_FILE`), hand the
token to the person; the file keeps only its SHA-256 (`review.users`).
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from review.audit import AuditTrail
from review.audit_key import key_from_text, read_key_file
from review.storage import is_postgres_url, open_storage
from review.storage_schema import SCHEMA_VERSION, grant_app_role
from review.users import new_token, users_file_line
from review.verify import Check, verify_bundle, verify_database
from steps.errors import SignoffError
from steps.settings import Settings

KEY_VARIABLE = "SIGNOFF_AUDIT_KEY"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m review")
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser("verify", help="check a review database or an export bundle")
    verify.add_argument("target", help="SQLite path, postgresql:// URL, or bundle .zip")
    verify.add_argument("--key-file", type=Path, help=f"audit key file (else ${KEY_VARIABLE})")
    verify.add_argument("--db", help="with a bundle: the review database its events came from")
    migrate = commands.add_parser("migrate", help="create or upgrade the review database schema")
    migrate.add_argument("target", help="SQLite path or postgresql:// URL")
    migrate.add_argument(
        "--app-role", help="PostgreSQL: grant this role what an app server needs, no more"
    )
    token = commands.add_parser("new-token", help="make a person's token for the users file")
    token.add_argument("name", help="the person, as the audit trail will name them")
    return parser


def _key(key_file: Path | None, settings: Settings) -> bytes | None:
    if key_file is not None:
        return read_key_file(key_file)
    text = settings.audit_key
    return key_from_text(text, source=KEY_VARIABLE) if text else None


def _is_bundle(target: str) -> bool:
    return not is_postgres_url(target) and (
        target.lower().endswith(".zip") or zipfile.is_zipfile(target)
    )


def _verify(args: argparse.Namespace, settings: Settings) -> Check:
    key = _key(args.key_file, settings)
    if not _is_bundle(args.target):
        return verify_database(args.target, key=key)
    trail = AuditTrail(args.db, key=key, read_only=True) if args.db else None
    return verify_bundle(Path(args.target), key=key, trail=trail)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run one command; the exit code says intact (0), broken (1) or not checkable (2).

    `env` stands in for the environment in tests; the settings are read from it once.
    """
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env() if env is None else Settings.from_env(env)
        if args.command == "new-token":
            secret = new_token()
            line = users_file_line(args.name, secret)
            print(f"token (give it to {args.name.strip()}; it is not kept anywhere): {secret}")
            print(f"users file line (under [users]): {line}")
            return 0
        if args.command == "migrate":
            storage = open_storage(args.target)
            if args.app_role:
                grant_app_role(storage, args.app_role)
            print(f"The review database {storage.display} is at schema version {SCHEMA_VERSION}.")
            return 0
        if not is_postgres_url(args.target) and not Path(args.target).exists():
            print(f"There is no review database or bundle at {args.target}.", file=sys.stderr)
            return 2
        check = _verify(args, settings)
    except SignoffError as error:
        print(error, file=sys.stderr)
        return 2
    print(check.reason, file=sys.stdout if check.ok else sys.stderr)
    return 0 if check.ok else 1


if __name__ == "__main__":
    sys.exit(main())
