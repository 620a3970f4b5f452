"""`licensing worker`: the background loop on its own, on the service's settings; refused in production
with a placeholder webhook secret like every entry point; stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from billing_testkit import Shop, cli_env, licensing

from licensing.models import License, OutboxMessage


def test_worker_once_processes_what_the_webhooks_stored(shop: Shop, settings: Any) -> None:
    shop.buy(seats=5)
    shop.fake.webhooks.wait_idle()
    assert shop.count(License) == 0  # stored, not processed: nobody ran the loop
    run = licensing(settings, "worker", "--once", LICENSING_LOG_LEVEL="INFO")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "database: " in run.stderr
    assert "item(s) worked off" in run.stdout
    [lic] = shop.licenses()
    assert lic.seats == 5
    with shop.session() as session:
        [mail] = session.query(OutboxMessage).all()
        assert mail.sent_at is not None  # logged: no SMTP host configured
    assert '"event": "mail.logged"' in run.stderr


def test_worker_runs_until_sigterm(shop: Shop, settings: Any) -> None:
    script = Path(sys.executable).with_name("licensing")
    proc = subprocess.Popen(
        [str(script), "worker"],
        env=cli_env(settings, LICENSING_LOG_LEVEL="INFO"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        shop.buy(seats=3)
        shop.fake.webhooks.wait_idle()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and shop.count(License) == 0:
            time.sleep(0.1)
        assert shop.count(License) == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, out + err
    assert "worker.stopped" in err


def test_worker_refuses_production_with_a_placeholder_webhook_secret(settings: Any) -> None:
    run = licensing(
        settings,
        "worker",
        "--once",
        LICENSING_ENV="production",
        LICENSING_STRIPE_WEBHOOK_SECRET="whsec_xxx",
        LICENSING_SECRET_KEY="9f2c4e1a7b3d5f608e1c2a4b6d8f0e13579bdf2468ace0",
    )
    assert run.returncode == 1
    assert "refusing to start in production" in run.stderr and "LICENSING_STRIPE_WEBHOOK_SECRET" in run.stderr
