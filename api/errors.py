"""The API's one error type: a stable ``code``, a message safe to show (in
the key owner's language) and the HTTP status; answered as
``{"error": {"code": ..., "message": ..., **extra}}``."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(self, code: str, message: str, *, status: int = 400, **extra: Any) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.extra = code, message, status, extra

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": str(self.message), **self.extra}}
