"""The ``licensing`` command: serve, worker, check, db, keys, apikeys, billing and verify.

Every command reads the same settings (LICENSING_* variables or .env), so they act on the same
database and keys. Errors print a plain message to stderr and exit non-zero; private keys and API
key hashes are never printed (an API key token is printed once, when it is created).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, cast

import typer

from licensing.kit.settings import Settings, get_settings

if TYPE_CHECKING:
    from licensing.verify import Keyring, License

app = typer.Typer(
    help="Issue, manage and verify signed license files.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # a traceback must never show a private key or a token
)
keys_app = typer.Typer(help="Signing keys: generate, list, rotate, retire, publish.", no_args_is_help=True)
apikeys_app = typer.Typer(help="API keys for the sales-ops API.", no_args_is_help=True)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
billing_app = typer.Typer(help="Stripe: the catalog, reconciling subscriptions, webhook events.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(apikeys_app, name="apikeys")
app.add_typer(db_app, name="db")
app.add_typer(billing_app, name="billing")

EXIT_REJECTED = 1
EXIT_USAGE = 2


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _warn(message: str) -> None:
    typer.echo(f"warning: {message}", err=True)


def _settings() -> Settings:
    try:
        return get_settings()
    except Exception as exc:  # pydantic's ValidationError names the bad variable
        _fail(f"invalid settings: {exc}", EXIT_USAGE)


# --- keys --------------------------------------------------------------------------------------
def _keystore() -> Any:
    from licensing.signing.keys import KeyStore

    settings = _settings()
    return KeyStore(settings.keys_dir, settings.passphrase())


@keys_app.command("generate")
def keys_generate() -> None:
    """Make a new signing key: active if it is the first, else pending (published, not signing)."""
    from licensing.signing.keys import KeyStoreError

    store = _keystore()
    try:
        info = store.generate()
    except (KeyStoreError, OSError) as exc:
        _fail(str(exc))
    typer.echo(f"generated key {info.kid} ({info.state}) in {store.directory}")
    if info.state == "pending":
        typer.echo(
            "It is published in the JWKS now; ship that JWKS in product builds, then run `licensing keys rotate`."
        )


@keys_app.command("list")
def keys_list() -> None:
    """List the keys and their states."""
    from licensing.signing.keys import KeyStoreError

    try:
        keys = _keystore().list_keys()
    except KeyStoreError as exc:
        _fail(str(exc))
    if not keys:
        typer.echo("no keys; run `licensing keys generate`")
        return
    typer.echo(f"{'KID':<45} {'STATE':<10} CREATED")
    for key in keys:
        flag = "  (development)" if key.development else ""
        typer.echo(f"{key.kid:<45} {key.state:<10} {key.created_at}{flag}")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Make the oldest pending key active and the active one previous."""
    from licensing.signing.keys import KeyStoreError

    try:
        result = _keystore().rotate()
    except (KeyStoreError, OSError) as exc:
        _fail(str(exc))
    if result.created:
        _warn(
            f"no pending key existed, so a new key {result.active.kid} was made and is signing now: installs shipped "
            "before now do not know it and will reject licenses it signs (unknown_key). Publish keys ahead with "
            "`licensing keys generate` next time."
        )
    previous = f"; {result.previous.kid} is now previous (still published)" if result.previous else ""
    typer.echo(f"active key is now {result.active.kid}{previous}")


@keys_app.command("retire", context_settings={"ignore_unknown_options": True})
def keys_retire(kid: Annotated[str, typer.Argument(help="The key id to withdraw from the JWKS.")]) -> None:
    """Withdraw a key from the JWKS (refused for the active key)."""
    from licensing.signing.keys import KeyStoreError

    store = _keystore()
    try:
        store.get(kid)
        live = _unexpired_licenses_signed_by(kid)
        info = store.retire(kid)
    except KeyStoreError as exc:
        _fail(str(exc))
    if live is None:
        _warn(f"could not check the database for unexpired licenses signed by {kid}; re-issue any that remain.")
    elif live:
        _warn(
            f"{live} unexpired license(s) were signed by {kid}; installs that update their JWKS will reject them "
            "(unknown_key) unless they are re-issued."
        )
    typer.echo(f"key {info.kid} is {info.state}")


def _unexpired_licenses_signed_by(kid: str) -> int | None:
    """How many live licenses a key signed; None when the database cannot be read (not migrated, down)."""
    from sqlalchemy import func, select
    from sqlalchemy.exc import SQLAlchemyError

    from licensing.licenses.status import not_ended
    from licensing.models import License

    runtime = _runtime()
    try:
        with runtime.unit_of_work() as session:
            query = select(func.count()).where(
                License.key_id == kid, License.revoked_at.is_(None), not_ended(runtime.core.now())
            )
            return int(session.scalar(query) or 0)
    except SQLAlchemyError:
        return None
    finally:
        runtime.close()


@keys_app.command("jwks")
def keys_jwks(
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of standard output.")] = None,
) -> None:
    """Print (or write) the public JWKS: pending, active and previous keys."""
    from licensing.signing.keys import KeyStoreError

    try:
        document = json.dumps(_keystore().jwks(), indent=2) + "\n"
    except KeyStoreError as exc:
        _fail(str(exc))
    if out is None:
        typer.echo(document, nl=False)
    else:
        try:
            out.write_text(document, "utf-8")
        except OSError as exc:
            _fail(f"cannot write {out}: {exc}")
        typer.echo(f"wrote {out}", err=True)


# --- database ----------------------------------------------------------------------------------
@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply the migrations up to REVISION (head)."""
    from licensing.kit.db import describe_database
    from service import migrate

    settings = _settings()
    _say_database(settings)
    try:
        migrate.upgrade(settings.database_url, revision, catalog_path=settings.catalog_path)
    except Exception as exc:
        _fail(f"migration failed: {exc}")
    typer.echo(f"database {describe_database(settings.database_url)} is at {revision}")


# --- API keys ----------------------------------------------------------------------------------
def _say_database(settings: Settings) -> None:
    """Every command that touches the database says which one (never a password), on stderr."""
    from licensing.kit.db import describe_database

    typer.echo(f"database: {describe_database(settings.database_url)}", err=True)


def _runtime() -> Any:
    """The runtime every database command shares with the service (licensing.context), without the
    production checks, which guard serving, not administration."""
    from licensing import context

    settings = _settings()
    _say_database(settings)
    return context.start(settings, serving=False)


@contextmanager
def _unit_of_work() -> Iterator[Any]:
    runtime = _runtime()
    try:
        with runtime.unit_of_work() as session:
            yield session, runtime.core
    finally:
        runtime.close()


def _database_error(exc: Exception) -> NoReturn:
    """A plain message for a database error, without the statement's parameters (they may hold secrets)."""
    reason = str(getattr(exc, "orig", None) or type(exc).__name__).strip().splitlines()[0]
    _fail(f"database error: {reason} (is LICENSING_DATABASE_URL right, and has `licensing db upgrade` run?)")


@apikeys_app.command("create")
def apikeys_create(
    name: Annotated[str, typer.Option("--name", help="Who uses the key; shown as the actor in the audit log.")],
    role: Annotated[str, typer.Option("--role", help="admin, sales or readonly.")] = "sales",
) -> None:
    """Create an API key. Its token is printed once, alone on the last line."""
    from sqlalchemy.exc import SQLAlchemyError

    from licensing.access.apikeys import create_api_key
    from licensing.kit.errors import DomainError

    try:
        with _unit_of_work() as (session, core):
            key, token = create_api_key(session, core, name=name, role=role)
    except DomainError as exc:
        _fail(exc.message, EXIT_USAGE)
    except SQLAlchemyError as exc:
        _database_error(exc)
    typer.echo(
        f"created API key {key.id} ({key.role}) named {key.name!r}; store this token now, it is not shown again:"
    )
    typer.echo(token)


@apikeys_app.command("list")
def apikeys_list() -> None:
    """List API keys (never their tokens)."""
    from sqlalchemy.exc import SQLAlchemyError

    from licensing.access.apikeys import list_api_keys

    try:
        with _unit_of_work() as (session, _core):
            keys = list_api_keys(session)
            rows = [
                (k.id, k.role, k.name, k.created_at.isoformat(), "revoked" if k.revoked_at else "active") for k in keys
            ]
    except SQLAlchemyError as exc:
        _database_error(exc)
    typer.echo(f"{'ID':<32} {'ROLE':<9} {'STATE':<8} {'CREATED':<26} NAME")
    for key_id, role, name, created, state in rows:
        typer.echo(f"{key_id:<32} {role:<9} {state:<8} {created:<26} {name}")


@apikeys_app.command("revoke")
def apikeys_revoke(key_id: Annotated[str, typer.Argument(help="The key id (key_...).")]) -> None:
    """Revoke an API key; it stops working at once."""
    from sqlalchemy.exc import SQLAlchemyError

    from licensing.access.apikeys import revoke_api_key
    from licensing.kit.errors import DomainError

    try:
        with _unit_of_work() as (session, core):
            revoke_api_key(session, core, key_id)
    except DomainError as exc:
        _fail(exc.message)
    except SQLAlchemyError as exc:
        _database_error(exc)
    typer.echo(f"revoked {key_id}")


# --- verify ------------------------------------------------------------------------------------
class _UsageError(Exception):
    """A mistake on the command line of ``licensing verify``: exit 2, and JSON under --json."""


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _UsageError(f"cannot read the {what} {path}: {exc}") from None


_FIRST_SECOND = datetime(1970, 1, 1, tzinfo=UTC)


def _parse_time(value: str) -> datetime:
    """An RFC 3339 time with a zone, from 1970 to the end of 9999 in UTC (what a license can say)."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise _UsageError(f"--at must be an RFC 3339 time such as 2026-01-31T12:00:00Z, not {value!r}") from None
    if moment.tzinfo is None:
        raise _UsageError("--at needs a time zone (for example a trailing Z for UTC)")
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:  # past the end of year 9999 once in UTC
        utc = None
    if utc is None or utc < _FIRST_SECOND:
        raise _UsageError(f"--at must be a time from 1970-01-01 to 9999-12-31 (UTC), not {value!r}")
    return utc


# What a terminal acts on rather than prints: C0 and C1 controls, DEL, the bidirectional controls
# (which reorder the rest of a line) and the line and paragraph separators. Text from inside a
# license is printed with each as a \uXXXX escape, so a license cannot forge or hide what is shown.
_ESCAPES = {
    code: f"\\u{code:04x}"
    for code in (
        *range(0x20),  # C0
        0x7F,  # DEL
        *range(0x80, 0xA0),  # C1, U+009B (CSI) among them
        0x061C,  # Arabic letter mark
        0x200E,  # left-to-right mark
        0x200F,  # right-to-left mark
        0x2028,  # line separator
        0x2029,  # paragraph separator
        *range(0x202A, 0x202F),  # embeddings and overrides, U+202E among them
        *range(0x2066, 0x206A),  # isolates
    )
}


def _printable(text: object) -> str:
    """``text`` for a terminal: control characters escaped as \\uXXXX, everything else as it is."""
    return str(text).translate(_ESCAPES)


def _verify_old(old: Path, keyring: Keyring, installation_id: str | None, now: datetime | None) -> License:
    """The license to compare with, verified for what matters to a comparison: its signature, format and
    binding. Its time does not matter (a renewal replaces an expiring license), nor a revocation."""
    from licensing.verify import LicenseError, decode_jws, verify

    try:
        old_bytes = old.read_bytes()
    except OSError as exc:
        raise _UsageError(f"cannot read the license to compare with {old}: {exc}") from None
    try:
        try:
            return verify(old_bytes, keyring, now=now, installation_id=installation_id)
        except LicenseError as exc:
            if exc.code not in {"expired", "not_yet_valid", "clock_skew"}:
                raise
            claims, _kid = decode_jws(old_bytes, "LICENSE FILE", "license+jwt", keyring)
            return verify(old_bytes, keyring, now=max(claims["iat"], claims["nbf"]), installation_id=installation_id)
    except LicenseError as exc:
        raise _UsageError(f"the license to compare with, {old}, was rejected ({exc.code}): {exc.message}") from None


def _verify_result(
    file: Path,
    jwks: Path,
    revocations: Path | None,
    installation_id: str | None,
    at: str | None,
    compare_with: Path | None = None,
) -> dict[str, Any]:
    """The --json document of one verification; _UsageError for a mistake on the command line."""
    from licensing.airgap import compare
    from licensing.verify import Keyring, KeyringError, LicenseError, RevocationList, load_revocations, verify

    try:
        license_bytes = file.read_bytes()
    except OSError as exc:
        raise _UsageError(f"cannot read the license file {file}: {exc}") from None
    try:
        keyring = Keyring.from_jwks(_read(jwks, "JWKS"))
    except KeyringError as exc:
        raise _UsageError(f"the JWKS {jwks} is unusable: {exc}") from None
    now = _parse_time(at) if at is not None else None
    old = None if compare_with is None else _verify_old(compare_with, keyring, installation_id, now)
    revocation_list: RevocationList | None = None
    if revocations is not None:
        try:
            revocation_list = load_revocations(_read(revocations, "revocation list"), keyring)
        except LicenseError as exc:
            raise _UsageError(f"the revocation list {revocations} was rejected ({exc.code}): {exc.message}") from None
    try:
        lic = verify(license_bytes, keyring, now=now, installation_id=installation_id, revocations=revocation_list)
    except LicenseError as exc:
        result = {"ok": False, "status": "rejected", "code": exc.code, "message": exc.message, "license": None}
        return result if old is None else {**result, "comparison": None}
    message = "The license is valid."
    if lic.status == "grace":
        message = (
            f"The license expired; it works until its grace period ends at {lic.grace_ends_at:%Y-%m-%d %H:%M} UTC."
        )
    result = {"ok": True, "status": lic.status, "code": None, "message": message, "license": lic.claims}
    if old is not None:
        comparison = compare(old, lic)
        result["comparison"] = {
            "old": old.id,
            "changes": comparison.changes,
            "warnings": comparison.warnings,
            "text": comparison.lines,
        }
    return result


def _print_license(claims: dict[str, Any]) -> None:
    customer = claims["customer"]
    seats = "unlimited" if claims["seats"] is None else claims["seats"]
    expires = datetime.fromtimestamp(claims["exp"], UTC).strftime("%Y-%m-%d %H:%M UTC") if "exp" in claims else "never"
    contact = " ".join(
        part for part in (customer.get("name"), f"<{customer['email']}>" if customer.get("email") else None) if part
    )
    lines = [
        ("license", claims["jti"]),
        ("customer", customer.get("company") or customer.get("name") or "(not named)"),
        ("contact", contact),
        ("tier", f"{claims['tier']}{' (trial)' if claims['trial'] else ''}, {seats} seats"),
        ("expires", expires),
        ("features", ", ".join(claims["features"]) or "(core only)"),
        ("bound to", claims.get("installation_id")),
    ]
    for label, value in lines:
        if value:
            typer.echo(f"  {label:<9} {_printable(value)}")


@app.command("verify")
def verify_command(
    file: Annotated[Path, typer.Argument(help="The license file.")],
    jwks: Annotated[Path, typer.Option("--jwks", help="The issuer's public keys (JWKS).")],
    revocations: Annotated[Path | None, typer.Option("--revocations", help="A signed revocation list.")] = None,
    installation_id: Annotated[str | None, typer.Option("--installation-id", help="This installation's id.")] = None,
    at: Annotated[str | None, typer.Option("--at", help="Verify as of this RFC 3339 time instead of now.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON result.")] = False,
    compare_with: Annotated[
        Path | None,
        typer.Option("--compare", help="The license installed now: say what installing FILE changes."),
    ] = None,
) -> None:
    """Verify a license file offline. Exit 0 when valid or in grace, 1 when rejected, 2 on a usage error.

    --json prints {"ok", "status", "code", "message", "license"}: status "valid", "grace" or
    "rejected" (code: why), or "error" with code "usage_error" for a mistake on the command line.
    --compare OLD adds what installing FILE in place of OLD changes (warnings first), and under --json
    "comparison": {"old", "changes", "warnings", "text"}; the exit code is still FILE's verdict.
    Text from inside a license is printed with control characters escaped (as \\uXXXX).
    """
    try:
        result = _verify_result(file, jwks, revocations, installation_id, at, compare_with)
    except _UsageError as exc:
        if as_json:
            error = {"ok": False, "status": "error", "code": "usage_error", "message": str(exc), "license": None}
            typer.echo(json.dumps(error, indent=2, sort_keys=True))
        _fail(_printable(exc), EXIT_USAGE)
    if as_json:
        # ensure_ascii escapes every control character (and everything else outside ASCII).
        typer.echo(json.dumps(result, indent=2, sort_keys=True))
    elif result["ok"]:
        typer.echo(f"{result['status'].upper()}: {result['message']}")
        _print_license(result["license"])
        if result.get("comparison") is not None:
            comparison = result["comparison"]
            typer.echo(f"compared with {_printable(comparison['old'])} ({_printable(compare_with)}):")
            for line in comparison["text"]:
                typer.echo(f"  {_printable(line)}")
    else:
        typer.echo(f"REJECTED ({result['code']}): {_printable(result['message'])}")
    raise typer.Exit(0 if result["ok"] else EXIT_REJECTED)


# --- billing -----------------------------------------------------------------------------------
def _billing_failure(exc: Exception) -> NoReturn:
    from sqlalchemy.exc import SQLAlchemyError

    from licensing.kit.errors import DomainError

    if isinstance(exc, DomainError):
        _fail(exc.message)
    if isinstance(exc, SQLAlchemyError):
        _database_error(exc)
    raise exc


@billing_app.command("sync-catalog")
def billing_sync_catalog(
    webhook_endpoint: Annotated[
        bool,
        typer.Option(
            "--webhook-endpoint",
            help="Also create or update the service's Stripe webhook endpoint (the events it handles).",
        ),
    ] = False,
    webhook_url: Annotated[
        str | None,
        typer.Option("--webhook-url", help="The endpoint's URL (default $LICENSING_PUBLIC_URL/v1/webhooks/stripe)."),
    ] = None,
    secret_file: Annotated[
        Path | None,
        typer.Option(
            "--secret-file",
            help="Where a newly created endpoint's signing secret is written (mode 0600; never overwritten). "
            "Required when the endpoint is created.",
        ),
    ] = None,
) -> None:
    """Create or update in Stripe the catalog's product and prices (found again by lookup key), the
    billing-portal configuration and, with --webhook-endpoint, the webhook endpoint."""
    from billing.catalog_sync import WebhookSync, sync_catalog, sync_webhook_endpoint

    if (webhook_url is not None or secret_file is not None) and not webhook_endpoint:
        _fail("--webhook-url and --secret-file go with --webhook-endpoint")
    runtime = _runtime()
    reserved: int | None = None
    webhook: WebhookSync | None = None
    try:
        changes = sync_catalog(runtime.core)
        if webhook_endpoint:
            if secret_file is not None and not secret_file.exists():
                # Reserved before Stripe makes a secret it shows only once (a bad path fails here, not after).
                reserved = _reserve_secret_file(secret_file)
            webhook = sync_webhook_endpoint(runtime.core, webhook_url, create=reserved is not None)
            if webhook.secret is not None and reserved is not None:
                os.write(reserved, f"{webhook.secret}\n".encode())
    except Exception as exc:
        _billing_failure(exc)
    finally:
        if reserved is not None:
            os.close(reserved)
            if (webhook is None or webhook.secret is None) and secret_file is not None:
                secret_file.unlink(missing_ok=True)  # the empty file this run made, nothing written to it
        runtime.close()
    for change in changes:
        typer.echo(str(change))
    if webhook is not None:
        if webhook.change.action == "missing":
            for_secret = (
                f"{secret_file} exists: refusing to overwrite it; give a new path"
                if secret_file is not None
                else "give --secret-file PATH"
            )
            _fail(
                f"no webhook endpoint at {webhook.change.detail} yet: creating one needs somewhere to keep its "
                f"signing secret (Stripe shows it only once): {for_secret}"
            )
        typer.echo(str(webhook.change))
        if webhook.secret is not None:
            typer.echo(
                f"the endpoint's signing secret was written to {secret_file} (mode 0600): set "
                "LICENSING_STRIPE_WEBHOOK_SECRET from it, then delete the file"
            )
        else:
            typer.echo(
                "the webhook endpoint existed already: nothing written (its signing secret is in Stripe's "
                "dashboard, Developers > Webhooks)"
            )
        changes = [*changes, webhook.change]
    touched = [c for c in changes if c.action != "unchanged"]
    typer.echo(f"{len(touched)} change(s); the catalog is in Stripe" if touched else "nothing to change")


def _reserve_secret_file(path: Path) -> int:
    """A new file, readable by its owner only, open for writing (refuses an existing one)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        _fail(f"{path} exists: refusing to overwrite it")
    except OSError as exc:
        _fail(f"cannot create {path}: {exc.strerror}")
    os.fchmod(fd, 0o600)
    return fd


@billing_app.command("reconcile")
def billing_reconcile() -> None:
    """Re-read every subscription from Stripe and issue what is missing (safe to run any time)."""
    from billing.reconcile import reconcile

    runtime = _runtime()
    seen = issued = failed = 0
    try:
        for item in reconcile(runtime):
            seen += 1
            issued += item.issued
            failed += item.result is None
            typer.echo(str(item))
    except Exception as exc:
        _billing_failure(exc)
    finally:
        runtime.close()
    typer.echo(f"{seen} subscription(s) in Stripe: {issued} license(s) issued, {failed} failed")
    if failed:
        raise typer.Exit(1)


@billing_app.command("events")
def billing_events(
    show_all: Annotated[bool, typer.Option("--all", help="Processed events too (the newest 100).")] = False,
    retry: Annotated[
        str | None, typer.Option("--retry", help="Make a given-up event due again: its id (evt_...) or 'all'.")
    ] = None,
) -> None:
    """Webhook events not processed yet (pending, retrying, failed), with their last error."""
    from sqlalchemy import select

    from billing.events import QUEUE, state_of, unfinished
    from licensing.models import StripeEvent

    runtime = _runtime()
    try:
        with runtime.unit_of_work() as session:
            now = runtime.core.now()
            if retry is not None:
                if retry == "all":
                    count = QUEUE.retry(session, now)
                else:
                    row_id = session.scalar(select(StripeEvent.id).where(StripeEvent.event_id == retry))
                    count = QUEUE.retry(session, now, row_id) if row_id is not None else 0
                typer.echo(f"{count} event(s) due again")
                return
            rows = [
                (e.event_id, e.type, state_of(e), e.attempts, e.next_attempt_at, e.last_error or e.outcome or "")
                for e in unfinished(session, include_processed=show_all)
            ]
    except Exception as exc:
        _billing_failure(exc)
    finally:
        runtime.close()
    if not rows:
        typer.echo("no unprocessed webhook events")
        return
    typer.echo(f"{'EVENT':<32} {'TYPE':<40} {'STATE':<10} {'TRIES':>5} {'NEXT ATTEMPT':<26} LAST ERROR / OUTCOME")
    for event_id, event_type, state, attempts, next_at, note in rows:
        next_text = next_at.isoformat() if next_at else "-"
        typer.echo(f"{event_id:<32} {event_type:<40} {state:<10} {attempts:>5} {next_text:<26} {note}")


# --- check -------------------------------------------------------------------------------------
@app.command("check")
def check_command() -> None:
    """Check the configuration without starting anything: what production refuses, the keys, the
    database, and every setting's value (secrets masked) and where it came from. Exit 1 on a finding in
    production."""
    from service.check import effective_settings, run_check

    settings = _settings()
    report = run_check(settings)
    production = settings.is_production
    typer.echo(f"environment: {settings.env}")
    if not report.findings:
        typer.echo("findings: none" + ("" if production else " (production would start)"))
    else:
        heading = "production refuses to start" if production else "production would refuse"
        typer.echo(f"{heading} ({len(report.findings)} finding(s)):")
        for finding in report.findings:
            typer.echo(f"  - {finding}")
    typer.echo(f"keys: {report.keys}")
    typer.echo(f"database: {report.database}")
    rows = effective_settings(settings)
    width = max(len(row.variable) for row in rows)
    typer.echo("")
    typer.echo("settings (value, and where it came from: env, .env or default; secrets masked):")
    for row in rows:
        typer.echo(f"  {row.variable:<{width}}  {row.value}  [{row.source}]")
    if production and report.findings:
        raise typer.Exit(EXIT_REJECTED)


# --- worker ------------------------------------------------------------------------------------
@app.command("worker")
def worker_command(
    once: Annotated[bool, typer.Option("--once", help="Work off what is due now, then exit.")] = False,
) -> None:
    """Run the background loop: webhook processing and outgoing e-mail (scale it apart from `serve`)."""
    import signal

    from licensing import context
    from licensing.kit.logs import configure_logging
    from service.worker import build_worker

    settings = _settings()
    configure_logging(settings.log_level)
    _say_database(settings)
    try:
        runtime = context.start(settings)
    except context.StartupRefused as exc:
        _fail(str(exc))
    worker = build_worker(runtime)
    try:
        if once:
            typer.echo(f"{worker.run_until_idle()} item(s) worked off")
            return

        def stop(_signum: int, _frame: Any) -> None:
            worker.stop(timeout=0)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        worker.run()
    finally:
        runtime.close()


# --- serve -------------------------------------------------------------------------------------
@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1, max=64)] = 1,
) -> None:
    """Migrate the database, make a development key if none is configured, and serve the API."""
    import functools
    import signal

    import uvicorn

    from licensing import context
    from licensing.kit.logs import uvicorn_log_config
    from licensing.signing.keys import KeyStoreError
    from service import migrate
    from service.check import database_is_new, next_steps
    from service.http import HeaderTimeoutProtocol

    settings = _settings()
    new_database = not settings.is_production and database_is_new(settings)  # before start() makes the file
    try:
        # The same start as the app's and the worker's, plus serve's own: a development key when there is
        # none (development only), and a key that signs.
        runtime = context.start(settings, prepare_keys=True)
    except (context.StartupRefused, KeyStoreError) as exc:
        _fail(str(exc))
    runtime.close()
    keys = runtime.core.keys
    if runtime.created_key is not None:
        typer.echo(f"created a development signing key {runtime.created_key.kid} in {keys.directory}", err=True)
    if warning := context.development_key_warning(keys):
        typer.echo("=" * 78, err=True)
        for line in textwrap.wrap(warning, 74):
            typer.echo(f"  {line}", err=True)
        typer.echo("=" * 78, err=True)
    _say_database(settings)
    first_run = not settings.is_production and (runtime.created_key is not None or new_database)
    try:
        migrate.upgrade(settings.database_url, catalog_path=settings.catalog_path)
    except Exception as exc:
        _fail(f"migration failed: {exc}")
    if first_run:
        every_interface = host in ("0.0.0.0", "::", "")  # noqa: S104 - what it listens on, not a bind
        shown = "127.0.0.1" if every_interface else (f"[{host}]" if ":" in host else host)
        typer.echo("-" * 78, err=True)
        for line in next_steps(settings, f"http://{shown}:{port}"):
            typer.echo(f"  {line}", err=True)
        typer.echo("-" * 78, err=True)
    # Before the app is imported: prometheus-client chooses where its counts live when first imported.
    metrics_dir, made_metrics_dir = _metrics_directory()
    # uvicorn handles SIGTERM (stop accepting, let requests in flight finish within the shutdown timeout,
    # stop the app: its background loop hands leased work back), then raises the signal again for the
    # handler it found: a no-op here, so that a drained server exits 0 rather than "killed by SIGTERM",
    # and the ``finally`` below removes the metrics directory.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: None)
    try:
        uvicorn.run(
            "api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=settings.log_level.lower(),
            log_config=uvicorn_log_config(settings.log_level),
            access_log=False,
            # The app believes X-Forwarded-For from LICENSING_TRUSTED_PROXIES alone (api.app); uvicorn's own
            # handling would believe it from any peer on 127.0.0.1 before the app could check.
            proxy_headers=False,
            # A slow client cannot hold the connections: request headers within a deadline (service.http),
            # idle keep-alive connections closed, a bound on connections and requests per process.
            http=cast(Any, functools.partial(HeaderTimeoutProtocol, header_timeout=settings.http_header_timeout)),
            timeout_keep_alive=settings.http_keep_alive,
            limit_concurrency=settings.http_max_concurrency,
            timeout_graceful_shutdown=settings.shutdown_timeout,
        )
    finally:
        if made_metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"  # as licensing.kit.metrics (not imported: see below)


def _metrics_directory() -> tuple[Path, bool]:
    """Where the worker processes keep their metrics (``PROMETHEUS_MULTIPROC_DIR``), so that a scrape of
    any of them sums every worker's counts: the operator's directory when set (emptied of the last run's
    files), else a new private one (0700) removed on exit. Set before the workers start (they inherit
    it) and before this process imports prometheus-client (it serves itself with one worker)."""
    given = os.environ.get(MULTIPROCESS_ENV)
    if given:
        directory = Path(given)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):  # counts of processes of an earlier run
            stale.unlink(missing_ok=True)
        return directory, False
    directory = Path(tempfile.mkdtemp(prefix="licensing-metrics-"))  # empty, 0700
    os.environ[MULTIPROCESS_ENV] = str(directory)
    return directory, True


def main() -> None:
    try:
        app(standalone_mode=True)
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
