"""HTTP serving for every embedded server: uvicorn behind one security layer."""

from __future__ import annotations

from fraudstream.httpserver.guard import JSON_TYPES, ErrorRenderer, plain_error
from fraudstream.httpserver.server import DEFAULT_MAX_BODY_BYTES, HttpServer
from fraudstream.httpserver.settings import HttpSecuritySettings, http_security_settings

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "JSON_TYPES",
    "ErrorRenderer",
    "HttpSecuritySettings",
    "HttpServer",
    "http_security_settings",
    "plain_error",
]
