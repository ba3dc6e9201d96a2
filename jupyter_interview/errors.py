"""The failure kinds every layer raises; server_ext maps each to one HTTP status and error event."""

from __future__ import annotations


class InterviewError(Exception):
    """Base of every expected failure: a stable snake_case `code` and a message for people."""

    status = 500
    default_code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.field = field

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return {"error": body}


class BadRequest(InterviewError):
    status = 400
    default_code = "bad_request"


class Unauthenticated(InterviewError):
    status = 401
    default_code = "unauthenticated"


class Forbidden(InterviewError):
    status = 403
    default_code = "forbidden"


class NotFound(InterviewError):
    status = 404
    default_code = "not_found"


class Conflict(InterviewError):
    """An illegal state transition or a stale etag."""

    status = 409
    default_code = "conflict"


class PayloadTooLarge(InterviewError):
    status = 413
    default_code = "payload_too_large"


class RateLimited(InterviewError):
    status = 429
    default_code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after_s = retry_after_s
