"""A self-hosted server's side of SPEC section 8, run as its own process by the end-to-end test
(tests/web/test_airgap_e2e.py): it uses only ``licensing.airgap`` and ``licensing.verify`` (what ships in
the ``licensing-verifier`` wheel) and cannot reach any network: sockets are disabled before anything is
imported. Files live in the directory given; the answer is one line of JSON on stdout.

    python airgap_server.py activate DIR INSTALLATION_ID      # key.pem + request.lic from license.lic
    python airgap_server.py report DIR INSTALLATION_ID '[[iso time, users], ...]'  # records, exports report.lic
    python airgap_server.py receipt DIR                       # checks receipt.lic against report.lic
    python airgap_server.py compare DIR INSTALLATION_ID OLD NEW   # what installing NEW changes
"""

from __future__ import annotations

import json
import socket
import sys
from datetime import datetime
from pathlib import Path
from typing import Any


def _no_network(*_args: Any, **_kwargs: Any) -> Any:
    raise OSError("this server has no network")


socket.socket = _no_network  # type: ignore[assignment,misc]
socket.create_connection = _no_network
socket.getaddrinfo = _no_network

from licensing.airgap import (  # noqa: E402  (after the network is cut)
    InstallationKey,
    UsageLog,
    activation_request,
    compare,
    report_digest,
    verify_receipt,
)
from licensing.verify import Keyring, verify  # noqa: E402


def main(command: str, directory: str, *args: str) -> dict[str, Any]:
    folder = Path(directory)
    if command == "activate":
        key = InstallationKey.generate()
        (folder / "key.pem").write_text(key.private_pem())
        (folder / "key.pem").chmod(0o600)
        request = activation_request(
            key, args[0], license_text=(folder / "license.lic").read_text(), product_version="10.2"
        )
        (folder / "request.lic").write_text(request)
        return {"thumbprint": key.thumbprint}
    key = InstallationKey.from_pem((folder / "key.pem").read_text())
    keyring = Keyring.from_jwks((folder / "jwks.json").read_text())
    if command == "report":
        bound = (folder / "bound.lic").read_text()
        verify(bound, keyring, installation_id=args[0])  # the license it runs, bound to it
        log = UsageLog(folder / "usage.json", key, bound)
        for at, users in json.loads(args[1]):
            log.record(users, datetime.fromisoformat(at))
        report = log.export()
        (folder / "report.lic").write_text(report)
        return {"seq": log.last_seq, "digest": report_digest(report)}
    if command == "receipt":
        receipt = verify_receipt(
            (folder / "receipt.lic").read_text(), keyring, report_digest((folder / "report.lic").read_text())
        )
        return {
            "seq": receipt.seq,
            "overage": receipt.overage,
            "gap": receipt.gap,
            "seats": receipt.seats,
            "peak_users": receipt.peak_users,
        }
    if command == "compare":
        old = verify((folder / args[1]).read_text(), keyring, installation_id=args[0])
        new = verify((folder / args[2]).read_text(), keyring, installation_id=args[0])
        return {"lines": compare(old, new).lines}
    raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:])))
