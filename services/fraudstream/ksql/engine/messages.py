"""ksqlDB's error texts, verbatim, in one catalog (as registry/errors.py keeps Confluent's).

Clients and the conformance suite match these strings; keep them byte-identical to
ksqlDB's. Texts that name the embedded engine's own limits end with NOT_SUPPORTED.
"""

from __future__ import annotations

__all__ = [
    "NOT_SUPPORTED",
    "duplicate_value_column",
    "join_on_windowed_and_non_windowed",
    "join_self",
    "join_stream_stream_needs_within",
    "join_stream_table_within",
    "join_table_stream_order",
    "join_table_table_within",
    "join_types_differ",
    "map_key_column",
    "no_value_columns",
    "not_supported",
    "query_does_not_exist",
    "unknown_source_qualifier",
    "where_not_boolean",
    "windowed_repartition",
]

NOT_SUPPORTED = "not supported by the embedded engine"
"""The suffix of every refusal of something ksqlDB computes and the embedded engine does not."""


def not_supported(feature: str) -> str:
    """A refusal naming the ksqlDB feature the embedded engine does not compute (never an
    approximation: the user learns the statement would run differently on ksqlDB)."""
    return f"{NOT_SUPPORTED}: {feature}"


def query_does_not_exist(query_id: str) -> str:
    return (
        f"Query with id:{query_id} does not exist, "
        "use SHOW QUERIES to view the full set of queries."
    )


def unknown_source_qualifier(name: str) -> str:
    return f"Failed to prepare statement: '{name}' is not a valid stream/table name or alias."


def join_self(left: str, right: str) -> str:
    return f"Can not join '{left}' to '{right}': self joins are not yet supported."


def where_not_boolean(expr: str, type_: object) -> str:
    return (
        f"Type error in WHERE expression: Should evaluate to boolean but is {expr} ({type_}) "
        "instead."
    )


def no_value_columns() -> str:
    return "The projection contains no value columns."


def duplicate_value_column(name: str, type_: object) -> str:
    return f"Duplicate value columns found in schema: `{name}` {type_}"


def join_types_differ(left: str, ltype: object, right: str, rtype: object) -> str:
    return f"Invalid join condition: types don't match. Got {left}{{{ltype}}} = {right}{{{rtype}}}."


def join_table_stream_order(left: str, join_text: str, right: str) -> str:
    return (
        "Invalid join order: table-stream joins are not supported; only stream-table joins. "
        f"Got {left} {join_text} {right}."
    )


def join_stream_stream_needs_within() -> str:
    return (
        "Stream-Stream joins must have a WITHIN clause specified. None was provided. To learn "
        "about how to specify a WITHIN clause with a stream-stream join, please visit: "
        "https://docs.confluent.io/current/ksql/docs/syntax-reference.html#create-stream-as-select"
    )


def join_table_table_within() -> str:
    return (
        "A window definition was provided for a Table-Table join. These joins are not "
        "windowed. Please drop the window definition (i.e. the WITHIN clause) and try to "
        "re-run your join."
    )


def join_stream_table_within() -> str:
    return (
        "A window definition was provided for a Stream-Table join. These joins are not "
        "windowed. Please drop the window definition (ie. the WITHIN clause) and try to "
        "re-run your join."
    )


def map_key_column(column: str, type_: object) -> str:
    return (
        "Map keys, including types that contain maps, are not supported as they may "
        "lead to unexpected behavior due to inconsistent serialization. "
        f"Key column name: `{column}`. Column type: {type_}. "
        "See https://github.com/confluentinc/ksql/issues/6621 for more."
    )


def join_on_windowed_and_non_windowed(windowed: str, window_type: str, other: str) -> str:
    return (
        "Can not join windowed source to non-windowed source.\n"
        f"`{windowed}` is {window_type} windowed\n"
        f"`{other}` is not windowed"
    )


def windowed_repartition() -> str:
    return (
        "Implicit repartitioning of windowed sources is not supported. "
        "See https://github.com/confluentinc/ksql/issues/4385."
    )
