"""Starlette app speaking Confluent Schema Registry's REST API (the parts clients use).

Error bodies are Confluent's `{"error_code": ..., "message": ...}`; every unexpected
exception becomes a 500/50001 answer and a log line, never a dead server. Paths with a
trailing slash are the same resource (Jersey matches both; python-schema-registry-client
asks `GET /config/`). Large bodies are parsed off the event loop. Host, origin, auth,
content type and body size are enforced by `fraudstream.httpserver` (see SECURITY).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import cache, partial
from importlib import resources
from typing import Any

import anyio.to_thread
import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from fraudstream.registry.errors import (
    MalformedRequest,
    NotFound,
    RestError,
    UnprocessableEntity,
)
from fraudstream.registry.service import Registry

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
# What Confluent's registry consumes (its `Versions`): octet-stream is Jersey's default for a
# request without a type; none of these is a type a browser may send cross-site unasked.
REQUEST_TYPES = frozenset(
    {
        CONTENT_TYPE,
        "application/vnd.schemaregistry+json",
        "application/json",
        "application/octet-stream",
    }
)
MAX_BODY_BYTES = 2 << 20
# Bodies above this are parsed in a worker thread so the loop keeps serving.
OFF_LOOP_BYTES = 64 << 10

Handler = Callable[[Request], Awaitable[Response]]


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=CONTENT_TYPE)


def render_error(status: int, message: str) -> tuple[bytes, str]:
    """Refusals of the security layer in Confluent's error format."""
    return orjson.dumps({"error_code": status, "message": message}), CONTENT_TYPE


@cache
def openapi_description() -> bytes:
    """The OpenAPI description of the endpoints below (`openapi.json`, kept by hand)."""
    return resources.files("fraudstream.registry").joinpath("openapi.json").read_bytes()


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").strip().lower() == "true"


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        if len(raw) > OFF_LOOP_BYTES:
            data = await anyio.to_thread.run_sync(orjson.loads, raw)
        else:
            data = orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError as exc:
        raise MalformedRequest(f"Malformed JSON request body: {exc}") from None
    if not isinstance(data, dict):
        raise UnprocessableEntity("Request body must be a JSON object")
    return data


def _schema_field(data: dict[str, Any]) -> str:
    schema = data.get("schema")
    if schema is None:
        raise UnprocessableEntity("Unrecognized or missing field: 'schema' is required")
    if not isinstance(schema, str):
        # Confluent expects the schema as a JSON string; accept an embedded object too.
        schema = orjson.dumps(schema).decode()
    return schema


def _guard(handler: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except RestError as exc:
            return _json(exc.body(), exc.status)
        except ClientDisconnect:  # gone, or cut off by the body limit (which answered 413)
            return Response(status_code=499)
        except Exception:  # the server must answer, not die
            log.exception("unexpected registry error on %s %s", request.method, request.url.path)
            return _json({"error_code": 50001, "message": "Error in the backend"}, 500)

    return wrapped


def _subject_id(request: Request) -> int:
    raw = request.path_params["id"]
    try:
        return int(raw)
    except ValueError:
        raise NotFound(f"HTTP 404 Not Found: schema id {raw!r} is not a number") from None


def build_app(registry: Registry) -> ASGIApp:
    """The ASGI app for `registry` (one per server)."""

    async def root(request: Request) -> Response:
        return _json({})

    async def openapi(request: Request) -> Response:
        return Response(openapi_description(), media_type="application/json")

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        return _json({"error_code": status, "message": f"HTTP {status} {request.url.path}"}, status)

    routes = [
        Route("/", _guard(root), methods=["GET"]),
        Route("/openapi.json", _guard(openapi), methods=["GET"]),
        *_schema_routes(registry),
        *_config_routes(registry),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: not_found})
    app.router.redirect_slashes = False
    return _SlashInsensitive(app)


def _schema_routes(registry: Registry) -> list[Route]:
    """Subjects, versions and schemas by id."""
    run = anyio.to_thread.run_sync

    async def list_subjects(request: Request) -> Response:
        subjects = registry.state.subjects(
            include_deleted=_flag(request, "deleted"),
            deleted_only=_flag(request, "deletedOnly") or _flag(request, "deleted_only"),
        )
        prefix = request.query_params.get("subjectPrefix")
        if prefix:
            subjects = [s for s in subjects if s.startswith(prefix)]
        return _json(subjects)

    async def subject_versions(request: Request) -> Response:
        subject = request.path_params["subject"]
        return _json(registry.versions(subject, include_deleted=_flag(request, "deleted")))

    async def register(request: Request) -> Response:
        subject = request.path_params["subject"]
        data = await _body(request)
        sv = await run(
            partial(
                registry.register,
                subject,
                _schema_field(data),
                data.get("schemaType"),
                data.get("references"),
            )
        )
        return _json({"id": sv.id})

    async def lookup(request: Request) -> Response:
        subject = request.path_params["subject"]
        data = await _body(request)
        sv = await run(registry.lookup, subject, _schema_field(data), _flag(request, "deleted"))
        return _json(sv.to_json())

    async def delete_subject(request: Request) -> Response:
        subject = request.path_params["subject"]
        versions = await run(registry.delete_subject, subject, _flag(request, "permanent"))
        return _json(versions)

    async def get_version(request: Request) -> Response:
        p = request.path_params
        sv = registry.get_version(p["subject"], p["version"], _flag(request, "deleted"))
        return _json(sv.to_json())

    async def get_version_schema(request: Request) -> Response:
        p = request.path_params
        sv = registry.get_version(p["subject"], p["version"], _flag(request, "deleted"))
        return Response(sv.schema, media_type=CONTENT_TYPE)

    async def delete_version(request: Request) -> Response:
        p = request.path_params
        num = await run(
            registry.delete_version, p["subject"], p["version"], _flag(request, "permanent")
        )
        return _json(num)

    async def referenced_by(request: Request) -> Response:
        p = request.path_params
        registry.get_version(p["subject"], p["version"], True)
        return _json([])

    async def schema_by_id(request: Request) -> Response:
        return _json({"schema": registry.schema_by_id(_subject_id(request))})

    async def raw_schema_by_id(request: Request) -> Response:
        return Response(registry.schema_by_id(_subject_id(request)), media_type=CONTENT_TYPE)

    async def id_subjects(request: Request) -> Response:
        uses = registry.usages(_subject_id(request), _flag(request, "deleted"))
        return _json(sorted({sv.subject for sv in uses}))

    async def id_versions(request: Request) -> Response:
        uses = registry.usages(_subject_id(request), _flag(request, "deleted"))
        return _json([{"subject": sv.subject, "version": sv.version} for sv in uses])

    async def schema_types(request: Request) -> Response:
        return _json(["AVRO"])

    return [
        Route("/subjects", _guard(list_subjects), methods=["GET"]),
        Route("/subjects/{subject}/versions", _guard(subject_versions), methods=["GET"]),
        Route("/subjects/{subject}/versions", _guard(register), methods=["POST"]),
        Route("/subjects/{subject}/versions/{version}", _guard(get_version), methods=["GET"]),
        Route("/subjects/{subject}/versions/{version}", _guard(delete_version), methods=["DELETE"]),
        Route(
            "/subjects/{subject}/versions/{version}/schema",
            _guard(get_version_schema),
            methods=["GET"],
        ),
        Route(
            "/subjects/{subject}/versions/{version}/referencedby",
            _guard(referenced_by),
            methods=["GET"],
        ),
        Route("/subjects/{subject}", _guard(lookup), methods=["POST"]),
        Route("/subjects/{subject}", _guard(delete_subject), methods=["DELETE"]),
        Route("/schemas/types", _guard(schema_types), methods=["GET"]),
        Route("/schemas/ids/{id}", _guard(schema_by_id), methods=["GET"]),
        Route("/schemas/ids/{id}/schema", _guard(raw_schema_by_id), methods=["GET"]),
        Route("/schemas/ids/{id}/subjects", _guard(id_subjects), methods=["GET"]),
        Route("/schemas/ids/{id}/versions", _guard(id_versions), methods=["GET"]),
    ]


def _config_routes(registry: Registry) -> list[Route]:
    """Compatibility levels, compatibility tests, mode and contexts."""
    run = anyio.to_thread.run_sync

    async def get_global_config(request: Request) -> Response:
        return _json({"compatibilityLevel": registry.state.level(None).value})

    async def put_config(request: Request) -> Response:
        subject = request.path_params.get("subject")
        data = await _body(request)
        level = data.get("compatibility", data.get("compatibilityLevel"))
        result = await run(registry.set_level, subject, level)
        return _json({"compatibility": result.value})

    async def delete_config(request: Request) -> Response:
        subject = request.path_params.get("subject")
        previous = await run(registry.delete_level, subject)
        return _json({"compatibilityLevel": previous.value})

    async def get_subject_config(request: Request) -> Response:
        level = registry.subject_level(
            request.path_params["subject"], _flag(request, "defaultToGlobal")
        )
        return _json({"compatibilityLevel": level.value})

    async def compatibility(request: Request) -> Response:
        p = request.path_params
        data = await _body(request)
        messages = await run(
            registry.test_compatibility,
            p["subject"],
            p.get("version"),
            _schema_field(data),
            data.get("schemaType"),
        )
        out: dict[str, Any] = {"is_compatible": not messages}
        if _flag(request, "verbose"):
            out["messages"] = messages
        return _json(out)

    async def get_mode(request: Request) -> Response:
        return _json({"mode": registry.effective_mode(request.path_params.get("subject"))})

    async def put_mode(request: Request) -> Response:
        data = await _body(request)
        mode = await run(registry.set_mode, request.path_params.get("subject"), data.get("mode"))
        return _json({"mode": mode})

    async def delete_mode(request: Request) -> Response:
        previous = await run(registry.delete_mode, request.path_params["subject"])
        return _json({"mode": previous})

    async def contexts(request: Request) -> Response:
        return _json(["."])  # only the default context

    return [
        Route("/config", _guard(get_global_config), methods=["GET"]),
        Route("/config", _guard(put_config), methods=["PUT"]),
        Route("/config", _guard(delete_config), methods=["DELETE"]),
        Route("/config/{subject}", _guard(get_subject_config), methods=["GET"]),
        Route("/config/{subject}", _guard(put_config), methods=["PUT"]),
        Route("/config/{subject}", _guard(delete_config), methods=["DELETE"]),
        Route(
            "/compatibility/subjects/{subject}/versions/{version}",
            _guard(compatibility),
            methods=["POST"],
        ),
        Route(
            "/compatibility/subjects/{subject}/versions", _guard(compatibility), methods=["POST"]
        ),
        Route("/mode", _guard(get_mode), methods=["GET"]),
        Route("/mode", _guard(put_mode), methods=["PUT"]),
        Route("/contexts", _guard(contexts), methods=["GET"]),
        Route("/mode/{subject}", _guard(get_mode), methods=["GET"]),
        Route("/mode/{subject}", _guard(put_mode), methods=["PUT"]),
        Route("/mode/{subject}", _guard(delete_mode), methods=["DELETE"]),
    ]


class _SlashInsensitive:
    """`/config/` is `/config`, as in Jersey (no 307 redirect with an empty body)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and len(path) > 1 and path.endswith("/"):
            scope = dict(scope, path=path.rstrip("/") or "/")
            raw = scope.get("raw_path")
            if isinstance(raw, bytes):
                scope["raw_path"] = raw.rstrip(b"/") or b"/"
        await self.app(scope, receive, send)
