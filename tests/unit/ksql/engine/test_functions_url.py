"""URL UDFs on java.net.URI's parsing rules and Guava / URLDecoder's parameter coding."""

from __future__ import annotations

import pytest

from fraudstream.ksql.engine.functions_url import decode_param, encode_param, parse_uri
from fraudstream.ksql.errors import KsqlProcessingError


def test_components_decoded_like_uri_getters() -> None:
    u = parse_uri("https://me@confluent.io:8080/a%20b/c?x=1&y=%26#frag%21")
    assert (u.scheme, u.host, u.port) == ("https", "confluent.io", 8080)
    assert (u.path, u.query, u.fragment) == ("/a b/c", "x=1&y=&", "frag!")
    rel = parse_uri("www.confluent.io")
    assert (rel.scheme, rel.host, rel.path, rel.query) == (None, None, "www.confluent.io", None)
    assert parse_uri("http://www.test.com?q").path == ""


def test_opaque_and_registry_based_uris() -> None:
    opaque = parse_uri("mailto:someone@example.com?subject=x")
    assert opaque.scheme == "mailto" and opaque.path is None and opaque.query is None
    reg = parse_uri("http://under_score.com:80/x")  # not a host name: registry-based
    assert reg.host is None and reg.port == -1 and reg.path == "/x"


def test_invalid_syntax_is_an_error() -> None:
    for bad in ("http://a b.com/", "http://x.com/%zz", "1http://x", "http://", "a:"):
        with pytest.raises(KsqlProcessingError, match="invalid syntax"):
            parse_uri(bad)


def test_param_coding() -> None:
    assert encode_param("?foo $bar~") == "%3Ffoo+%24bar%7E"
    assert encode_param("é") == "%C3%A9"
    assert decode_param("%3Ffoo+%24bar") == "?foo $bar"
    with pytest.raises(KsqlProcessingError):
        decode_param("100%")
