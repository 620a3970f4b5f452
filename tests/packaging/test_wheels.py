"""`make dist`: the licensing-verifier and licensing-service wheels (SPEC section 3).

``make dist`` runs in a copy of the working tree (git's tracked and untracked-but-not-ignored files), so
the shared ``dist/`` and ``build/`` folders are left alone; it uses the test's own virtualenv (``-o venv``
skips only the target that would pip-install into it). The verifier wheel is then installed alone in a
clean virtualenv, cached for the session, where it must verify a license without importing anything of
the service.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path
from typing import Any

import pytest

from licensing.signing.keys import KeyStore

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
# The verifier, and the air-gapped exchanges beside it (SPEC section 8): they ship together.
AIRGAP_FILES = {f"licensing/airgap/{path.name}" for path in (REPO / "licensing" / "airgap").glob("*.py")}
VERIFIER_FILES = {"licensing/__init__.py", "licensing/verify.py", "licensing/py.typed", *AIRGAP_FILES}
SERVICE_PACKAGES = ("licensing", "api", "billing", "service", "migrations")
SERVICE_ONLY_MODULES = ("fastapi", "sqlalchemy", "stripe", "pydantic", "starlette", "typer", "alembic", "httpx")
NETWORK_MODULES = ("socket", "ssl", "http.client", "urllib.request")
VERIFIER_VENV_PACKAGES = {"licensing-verifier", "cryptography", "cffi", "pycparser", "pip", "setuptools"}


def run(args: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"{' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def plain_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LICENSING_", "PYTHON", "VIRTUAL_ENV"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def working_tree_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    return sorted({name for name in out.decode().split("\0") if name and (REPO / name).is_file()})


# --- building -------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def source_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("repo-copy")
    if not (REPO / ".git").exists():  # not a git checkout: everything but what .gitignore names
        ignored = shutil.ignore_patterns(".git", ".venv", "data", "dist", "build", "__pycache__", "*.pyc", ".*_cache")
        shutil.copytree(REPO, root, ignore=ignored, dirs_exist_ok=True)
        return root
    for name in working_tree_files():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    return root


@pytest.fixture(scope="session")
def dist(source_copy: Path) -> Path:
    venv = Path(sys.executable).parent.parent
    if shutil.which("make") is None:
        pytest.fail("make is not installed")
    run(["make", "-o", "venv", "dist", f"VENV={venv}"], cwd=source_copy, env=plain_env())
    return source_copy / "dist"


def one_wheel(dist: Path, prefix: str) -> Path:
    wheels = sorted(dist.glob(f"{prefix}-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="session")
def verifier_wheel(dist: Path) -> Path:
    return one_wheel(dist, "licensing_verifier")


@pytest.fixture(scope="session")
def service_wheel(dist: Path) -> Path:
    return one_wheel(dist, "licensing_service")


def dist_info(wheel: zipfile.ZipFile) -> str:
    (folder,) = {name.split("/")[0] for name in wheel.namelist() if name.split("/")[0].endswith(".dist-info")}
    return folder


def metadata(wheel: zipfile.ZipFile) -> Any:
    return Parser().parsestr(wheel.read(f"{dist_info(wheel)}/METADATA").decode())


def requirement_names(meta: Any, *, with_extras: bool = False) -> set[str]:
    names = set()
    for requirement in meta.get_all("Requires-Dist") or []:
        if "extra ==" in requirement and not with_extras:
            continue
        names.add(re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0].lower())
    return names


# --- the two wheels ------------------------------------------------------------------------------------
def test_make_dist_builds_both_wheels(dist: Path) -> None:
    names = sorted(p.name for p in dist.iterdir())
    assert len(names) == 2, names
    assert names[0].startswith("licensing_service-") and names[0].endswith("-py3-none-any.whl")
    assert names[1].startswith("licensing_verifier-") and names[1].endswith("-py3-none-any.whl")


def test_verifier_wheel_holds_only_the_verifier(verifier_wheel: Path, source_copy: Path) -> None:
    with zipfile.ZipFile(verifier_wheel) as wheel:
        info = dist_info(wheel)
        assert info.startswith("licensing_verifier-")
        names = set(wheel.namelist())
        assert {n for n in names if not n.startswith(f"{info}/")} == VERIFIER_FILES
        for name in VERIFIER_FILES:  # the repository's own files, unchanged
            assert wheel.read(name) == (source_copy / name).read_bytes(), name
        assert {n.split("/", 1)[1] for n in names if n.startswith(f"{info}/")} <= {"METADATA", "WHEEL", "RECORD"}
        meta = metadata(wheel)
        assert meta["Name"] == "licensing-verifier"
        assert requirement_names(meta, with_extras=True) == {"cryptography"}


def test_service_wheel_holds_everything(service_wheel: Path, source_copy: Path) -> None:
    with zipfile.ZipFile(service_wheel) as wheel:
        info = dist_info(wheel)
        assert info.startswith("licensing_service-")
        names = set(wheel.namelist())
        assert {n.split("/")[0] for n in names} == {*SERVICE_PACKAGES, info}
        # Every file of the four packages in the source (code, templates, catalog, migrations) is in the wheel.
        for package in SERVICE_PACKAGES:
            for path in (source_copy / package).rglob("*"):
                if path.is_file() and "__pycache__" not in path.parts:
                    assert path.relative_to(source_copy).as_posix() in names
        for required in (
            "service/cli.py",
            "service/worker.py",
            "service/migrate.py",
            "licensing/verify.py",
            "licensing/airgap/__init__.py",
            "licensing/catalog.toml",
            "licensing/py.typed",
            "api/app.py",
            "billing/__init__.py",
            "migrations/env.py",
            "migrations/script.py.mako",
            "migrations/versions/__init__.py",
        ):
            assert required in names, required
        assert [n for n in names if re.fullmatch(r"migrations/versions/\d+_\w+\.py", n)]
        assert not [n for n in names if n.endswith(".pyc") or "/tests/" in f"/{n}"]

        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
        assert re.search(r"^\[console_scripts\]\s*\nlicensing = service\.cli:main\s*$", entry_points, re.M)
        meta = metadata(wheel)
        assert meta["Name"] == "licensing-service"
        assert {"cryptography", "fastapi", "sqlalchemy", "alembic", "typer", "stripe"} <= requirement_names(meta)


def test_service_wheel_migrations_run_from_the_wheel(service_wheel: Path, tmp_path: Path) -> None:
    """The wheel's own migrations and CLI (not the working tree's) build a database and load the catalog."""
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(service_wheel) as wheel:
        wheel.extractall(unpacked)
    database = tmp_path / "from-wheel.db"
    env = plain_env(
        PYTHONPATH=str(unpacked),
        LICENSING_DATABASE_URL=f"sqlite:///{database}",
        LICENSING_KEYS_DIR=str(tmp_path / "keys"),
    )
    code = (
        "import sys, migrations, service.cli\n"
        "from licensing.catalog import load_catalog\n"
        f"root = {str(unpacked)!r}\n"
        "assert migrations.__file__.startswith(root), migrations.__file__\n"
        "assert service.cli.__file__.startswith(root), service.cli.__file__\n"
        "assert 'enterprise' in load_catalog().offers\n"
        "service.cli.main()\n"
    )
    out = run([sys.executable, "-c", code, "db", "upgrade"], cwd=tmp_path, env=env)
    assert "head" in out

    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    engine.dispose()
    assert {"customers", "licenses", "api_keys", "audit_events", "revocation_lists"} <= tables
    assert version


# --- the verifier alone in a clean virtualenv --------------------------------------------------------------
@pytest.fixture(scope="session")
def verifier_venv(verifier_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("verifier-venv") / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=venv.parent, env=plain_env())
    python = venv / "bin" / "python"
    run([str(python), "-m", "pip", "install", "--quiet", str(verifier_wheel)], cwd=venv.parent, env=plain_env())
    return venv


def test_verifier_venv_holds_only_the_verifier_and_cryptography(verifier_venv: Path) -> None:
    python = str(verifier_venv / "bin" / "python")
    listed = json.loads(run([python, "-m", "pip", "list", "--format", "json"], cwd=verifier_venv, env=plain_env()))
    names = {entry["name"].lower().replace("_", "-") for entry in listed}
    assert {"licensing-verifier", "cryptography"} <= names
    assert names <= VERIFIER_VENV_PACKAGES, names - VERIFIER_VENV_PACKAGES
    # licensing-verifier installs no top-level module but `licensing`.
    files = run(
        [
            python,
            "-I",
            "-c",
            "import importlib.metadata as m; print('\\n'.join(str(f) for f in m.files('licensing-verifier')))",
        ],
        cwd=verifier_venv,
        env=plain_env(),
    ).split()
    assert {f.split("/")[0] for f in files if not f.split("/")[0].endswith(".dist-info")} == {"licensing"}


VERIFY_SCRIPT = """
import json, sys
from licensing.verify import Keyring, LicenseError, verify
import licensing.verify

keyring = Keyring.from_jwks(open(sys.argv[1]).read())
lic = verify(open(sys.argv[2]).read(), keyring, installation_id="inst-1")
try:
    verify(open(sys.argv[3]).read(), keyring)
    tampered = None
except LicenseError as exc:
    tampered = exc.code
try:
    import licensing.signing.keys
    service = True
except ImportError:
    service = False
print(json.dumps({
    "status": lic.status,
    "tier": lic.tier,
    "seats": lic.seats,
    "saml": lic.has_feature("saml"),
    "tampered": tampered,
    "service": service,
    "file": licensing.verify.__file__,
    "modules": sorted(sys.modules),
}))
"""


def test_verifier_alone_verifies_without_importing_the_service(verifier_venv: Path, tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    store.generate()
    signer = store.signer()
    claims = {
        "iss": "test-issuer",
        "jti": "lic_wheel_0001",
        "sub": "cus_0001",
        "ver": 1,
        "iat": 1_700_000_000,
        "nbf": 1_700_000_000,
        "exp": 4_100_000_000,
        "tier": "professional",
        "trial": False,
        "seats": 50,
        "features": ["saml"],
        "grace_days": 10,
        "customer": {"name": "Ada", "email": "ada@example.com", "company": "Example"},
        "installation_id": "inst-1",
    }
    (tmp_path / "jwks.json").write_text(json.dumps(store.jwks()))
    (tmp_path / "license.lic").write_text(signer.sign_license(claims))
    # The header and signature of the license around another payload (5000 seats).
    header, _payload, signature = signer.sign_compact("license+jwt", claims).split(".")
    forged_payload = signer.sign_compact("license+jwt", {**claims, "seats": 5000}).split(".")[1]
    (tmp_path / "tampered.lic").write_text(f"{header}.{forged_payload}.{signature}")

    python = str(verifier_venv / "bin" / "python")
    # -I: no PYTHONPATH, no user site, not the current directory: only what the venv installed.
    out = run(
        [python, "-I", "-c", VERIFY_SCRIPT, "jwks.json", "license.lic", "tampered.lic"], cwd=tmp_path, env=plain_env()
    )
    result = json.loads(out)
    assert (result["status"], result["tier"], result["seats"], result["saml"]) == ("valid", "professional", 50, True)
    assert result["tampered"] == "bad_signature"
    assert result["service"] is False  # licensing.keys is not installed
    assert result["file"].startswith(str(verifier_venv))
    modules = result["modules"]
    leaked = sorted(m for m in modules if m.split(".")[0] in SERVICE_ONLY_MODULES)
    assert leaked == []
    assert [m for m in NETWORK_MODULES if m in modules] == []


AIRGAP_SCRIPT = """
import json, sys, tempfile
from datetime import datetime, timezone
from licensing.airgap import (
    InstallationKey, UsageLog, activation_request, compare, read_activation_request, read_usage_report,
)
from licensing.verify import Keyring, verify

key = InstallationKey.from_pem(InstallationKey.generate().private_pem())
license_text = open(sys.argv[1]).read()
request = read_activation_request(activation_request(key, "inst-1", license_text, "1.0"))
with tempfile.TemporaryDirectory() as directory:
    log = UsageLog(directory + "/usage.json", key, license_text)
    log.record(7, datetime(2025, 1, 1, 12, tzinfo=timezone.utc))
    report = read_usage_report(log.export(until=datetime(2025, 1, 1, tzinfo=timezone.utc)), key.public_jwk)
keyring = Keyring.from_jwks(open(sys.argv[2]).read())
lic = verify(license_text, keyring, installation_id="inst-1")
print(json.dumps({
    "license_id": request.license_id,
    "thumbprint": request.thumbprint == key.thumbprint,
    "peak": report.peak_users,
    "compare": str(compare(lic, lic)),
    "modules": sorted(sys.modules),
}))
"""


def test_the_airgap_exchanges_work_from_the_verifier_wheel_alone(verifier_venv: Path, tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    store.generate()
    claims = {
        "iss": "test-issuer",
        "jti": "lic_wheel_0002",
        "sub": "cus_0001",
        "ver": 1,
        "iat": 1_700_000_000,
        "nbf": 1_700_000_000,
        "tier": "professional",
        "trial": False,
        "seats": 50,
        "features": [],
        "grace_days": 10,
        "customer": {"name": "Ada", "email": "ada@example.com", "company": "Example"},
        "installation_id": "inst-1",
    }
    (tmp_path / "jwks.json").write_text(json.dumps(store.jwks()))
    (tmp_path / "license.lic").write_text(store.signer().sign_license(claims))
    python = str(verifier_venv / "bin" / "python")
    result = json.loads(
        run([python, "-I", "-c", AIRGAP_SCRIPT, "license.lic", "jwks.json"], cwd=tmp_path, env=plain_env())
    )
    assert (result["license_id"], result["thumbprint"], result["peak"]) == ("lic_wheel_0002", True, 7)
    assert result["compare"] == "warning: NEW is the same license as OLD"
    modules = result["modules"]
    assert sorted(m for m in modules if m.split(".")[0] in SERVICE_ONLY_MODULES) == []
    assert [m for m in NETWORK_MODULES if m in modules] == []
