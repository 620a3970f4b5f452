"""licensing.kit.metrics.on_commit: a count runs once its transaction commits, never when it rolls back."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from licensing.kit import metrics


def test_a_count_runs_once_on_commit_and_never_after_a_rollback() -> None:
    engine = create_engine("sqlite://")
    counted: list[str] = []
    with Session(engine) as session:
        session.execute(text("SELECT 1"))
        metrics.on_commit(session, lambda: counted.append("committed"))
        assert counted == []
        session.commit()
        assert counted == ["committed"]

        session.execute(text("SELECT 1"))
        metrics.on_commit(session, lambda: counted.append("rolled back"))
        session.rollback()
        session.execute(text("SELECT 1"))
        session.commit()  # the next transaction commits: what the rolled back one counted stays uncounted
    assert counted == ["committed"]
    with Session(engine) as other:  # sessions that count nothing are untouched by the listeners
        other.execute(text("SELECT 1"))
        other.commit()
    assert counted == ["committed"]
