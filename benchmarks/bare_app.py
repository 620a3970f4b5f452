"""The baseline of the API benchmark: a bare FastAPI app whose one endpoint inserts one row.

Sync SQLAlchemy (ORM session) in a ``def`` endpoint, on the same kind of engine and pool as the
service (``licensing.kit.db.make_engine``), into a table of its own in a PostgreSQL database of its own
(``BENCH_DATABASE_URL``; ``benchmarks/api.py`` creates both). It runs under the same ``uvicorn.run``
settings as ``licensing serve``:

    BENCH_DATABASE_URL=postgresql+psycopg://... python benchmarks/bare_app.py --port 8001 --workers 2
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI
from pydantic import BaseModel, Field
from sqlalchemy import BigInteger, DateTime, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from licensing.kit.db import make_engine, make_sessionmaker

TABLE_DDL = """
CREATE TABLE IF NOT EXISTS bench_rows (
    id BIGSERIAL PRIMARY KEY,
    name VARCHAR(200) NOT NULL,
    email VARCHAR(320) NOT NULL,
    seats INTEGER,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL
)
"""


class Base(DeclarativeBase):
    metadata = MetaData()


class BenchRow(Base):
    __tablename__ = "bench_rows"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    seats: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RowIn(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: Annotated[str, Field(min_length=3, max_length=320)]
    seats: int | None = None


class RowOut(BaseModel):
    id: int
    name: str
    email: str
    seats: int | None
    created_at: datetime


def create_app() -> FastAPI:
    engine = make_engine(os.environ["BENCH_DATABASE_URL"])
    sessions = make_sessionmaker(engine)
    app = FastAPI(title="bare insert baseline")

    @app.post("/rows", status_code=201)
    def insert_row(payload: RowIn) -> RowOut:
        with sessions() as session, session.begin():
            row = BenchRow(name=payload.name, email=payload.email, seats=payload.seats, created_at=datetime.now(UTC))
            session.add(row)
            session.flush()
            return RowOut(id=row.id, name=row.name, email=row.email, seats=row.seats, created_at=row.created_at)

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    os.chdir(Path(__file__).resolve().parent)
    # The same uvicorn.run settings as `licensing serve` (service/cli.py).
    uvicorn.run(
        "bare_app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=False,
        proxy_headers=True,
    )


if __name__ == "__main__":
    main()
