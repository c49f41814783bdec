"""Clear answers to bad requests: the field, the rule, in Indonesian with English beside it."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

# Indonesian wording of pydantic's rules; `{…}` are filled from the error's context.
_RULES_ID: dict[str, str] = {
    "missing": "wajib diisi",
    "string_type": "harus berupa teks",
    "string_too_short": "minimal {min_length} karakter",
    "string_too_long": "maksimal {max_length} karakter",
    "string_pattern_mismatch": "tidak sesuai pola {pattern}",
    "int_type": "harus berupa bilangan bulat",
    "int_parsing": "harus berupa bilangan bulat",
    "float_parsing": "harus berupa angka",
    "greater_than": "harus lebih dari {gt}",
    "greater_than_equal": "minimal {ge}",
    "less_than": "harus kurang dari {lt}",
    "less_than_equal": "maksimal {le}",
    "literal_error": "harus salah satu dari {expected}",
    "enum": "harus salah satu dari {expected}",
    "uuid_parsing": "harus berupa UUID",
    "uuid_type": "harus berupa UUID",
    "date_parsing": "harus berupa tanggal (YYYY-MM-DD)",
    "date_from_datetime_parsing": "harus berupa tanggal (YYYY-MM-DD)",
    "datetime_parsing": "harus berupa waktu ISO 8601",
    "datetime_from_date_parsing": "harus berupa waktu ISO 8601",
    "bool_parsing": "harus true atau false",
    "json_invalid": "JSON tidak valid",
    "model_attributes_type": "harus berupa objek JSON",
    "dict_type": "harus berupa objek JSON",
    "list_type": "harus berupa daftar",
    "too_long": "paling banyak {max_length} nilai",
    "extra_forbidden": "tidak dikenal (field tidak diizinkan)",
    "value_error": "tidak valid",
}


class FieldProblem(BaseModel):
    field: str
    rule: str
    pesan: str
    message: str


class ValidationProblem(BaseModel):
    """The body of every 422 answer."""

    pesan: str = "Data tidak valid"
    message: str = "Invalid data"
    errors: list[FieldProblem]


class ProblemDetail(BaseModel):
    pesan: str
    message: str


def field_problem(error: dict[str, Any]) -> FieldProblem:
    location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query")]
    field = ".".join(location) or "body"
    rule = str(error.get("type", "value_error"))
    context = {k: v for k, v in (error.get("ctx") or {}).items() if isinstance(v, str | int)}
    template = _RULES_ID.get(rule)
    if rule == "value_error" and error.get("msg"):
        # Our own validators raise with "Indonesian (English)" already.
        pesan = str(error["msg"]).removeprefix("Value error, ")
    elif template:
        try:
            pesan = template.format(**context)
        except KeyError:
            pesan = template.split(" {")[0]
    else:
        pesan = "tidak valid"
    return FieldProblem(
        field=field,
        rule=rule,
        pesan=f"{field}: {pesan}",
        message=f"{field}: {error.get('msg', 'invalid value')}",
    )


def bilingual(text: str) -> ProblemDetail:
    """Split "Indonesian (English)" — how our domain errors speak — into both fields."""
    if text.endswith(")") and " (" in text:
        pesan, _, message = text[:-1].rpartition(" (")
        return ProblemDetail(pesan=pesan, message=message)
    return ProblemDetail(pesan=text, message=text)


def problem(status_code: int, text: str, headers: dict[str, str] | None = None) -> HTTPException:
    return HTTPException(status_code, detail=bilingual(text).model_dump(), headers=headers)


class DomainError(Exception):
    """A rule of a service was broken; the message is "Indonesian (English)"."""


class NotFound(DomainError):
    """HTTP 404."""


class Conflict(DomainError):
    """The request is valid but the state does not allow it now (HTTP 409)."""


class Forbidden(DomainError):
    """The caller is not the one who may do this (HTTP 403)."""


class FieldRejected(DomainError):
    """Bad data in one field that the request's schema could not catch (HTTP 422)."""

    def __init__(self, *, field: str, rule: str, pesan: str, message: str):
        super().__init__(f"{pesan} ({message})")
        self.field, self.rule, self.pesan, self.message = field, rule, pesan, message


@contextlib.contextmanager
def answers() -> Iterator[None]:
    """Turn domain errors into 404, 409, 403 or a 422 naming the field and the rule."""
    try:
        yield
    except NotFound as error:
        raise problem(404, str(error)) from None
    except Conflict as error:
        raise problem(409, str(error)) from None
    except Forbidden as error:
        raise problem(403, str(error)) from None
    except FieldRejected as error:
        raise unprocessable(error) from None


def unprocessable(error: FieldRejected) -> HTTPException:
    """The 422 naming the field and the rule, as every refused field is answered."""
    body = ValidationProblem(
        errors=[
            FieldProblem(
                field=error.field,
                rule=error.rule,
                pesan=f"{error.field}: {error.pesan}",
                message=f"{error.field}: {error.message}",
            )
        ]
    )
    return HTTPException(422, detail=body.model_dump())


def install_error_handlers(app: FastAPI) -> None:
    # Starlette's class: it also covers the 404 and 405 the router raises itself.
    @app.exception_handler(StarletteHTTPException)
    async def http_problem(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, dict) else bilingual(str(exc.detail))
        body = detail if isinstance(detail, dict) else detail.model_dump()
        return JSONResponse(status_code=exc.status_code, content=body, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problem = ValidationProblem(errors=[field_problem(e) for e in exc.errors()])
        return JSONResponse(status_code=422, content=problem.model_dump())

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The trace id in the log ties this answer to the stack trace; the client sees neither.
        log.error(
            "kesalahan tak terduga (unexpected error)",
            exc_info=exc,
            extra={"path": request.url.path},
        )
        detail = ProblemDetail(
            pesan="Terjadi kesalahan pada server", message="Internal server error"
        )
        return JSONResponse(status_code=500, content=detail.model_dump())


# What any signed-in route may answer besides its own: documented once for every route.
STANDARD_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"model": ProblemDetail, "description": "Tanpa token sah (no valid token)"},
    403: {"model": ProblemDetail, "description": "Peran atau wilayah lain (not yours to do)"},
    404: {"model": ProblemDetail, "description": "Tidak ada, atau bukan untuk Anda (not found)"},
    413: {"model": ProblemDetail, "description": "Isi terlalu besar (body too large)"},
    422: {"model": ValidationProblem, "description": "Data tidak valid (invalid data)"},
    429: {"model": ProblemDetail, "description": "Terlalu banyak permintaan (too many requests)"},
}
