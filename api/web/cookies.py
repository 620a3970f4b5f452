"""The session cookie of a signed-in area (the customer portal, the sales console): HttpOnly, confined to
its path, ``Secure`` with the ``__Secure-`` prefix whenever the service is served over https (or runs in
production), and a SameSite rule of the area's choosing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response

from licensing.kit.settings import Settings


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def secure(settings: Settings) -> bool:
    return settings.is_production or urlsplit(settings.public_url).scheme.lower() == "https"


@dataclass(frozen=True)
class SessionCookie:
    name: str
    path: str
    max_age: timedelta
    samesite: Literal["lax", "strict"]

    def name_for(self, settings: Settings) -> str:
        return f"__Secure-{self.name}" if secure(settings) else self.name

    def read(self, request: Request) -> str | None:
        return request.cookies.get(self.name_for(settings_of(request)))

    def set(self, request: Request, response: Response, token: str) -> None:
        settings = settings_of(request)
        response.set_cookie(
            self.name_for(settings),
            token,
            max_age=int(self.max_age.total_seconds()),
            path=self.path,
            secure=secure(settings),
            httponly=True,
            samesite=self.samesite,
        )

    def clear(self, request: Request, response: Response) -> None:
        settings = settings_of(request)
        response.delete_cookie(
            self.name_for(settings), path=self.path, secure=secure(settings), httponly=True, samesite=self.samesite
        )
