"""Raw JSON card events (the source topic): fast decode with the checks of `RawCardEvent`.

Rules: every required key present, ints are ints (not bools or strings), numbers are
finite, Id/Time/Amount are not negative, User/Timestamp non-empty, Class is 0, 1 or null
(missing = null). Unknown keys are dropped.

Two paths give the same verdicts. Valid events (nearly all) go through a pydantic-core
`TypeAdapter` over a TypedDict in strict mode: JSON parsing and checks in Rust, a plain dict
out, ~1.8x `RawCardEvent.model_validate_json`. Anything it rejects is re-checked by the
hand-written `validate_raw_event`, which names the first problem as a SerdeFailure whose
`reason` the consumer puts on a dead letter (and accepts the lenient forms the strict path
refuses: integral floats for ints, Class as a digit string like the Kaggle CSV's "0").
"""

from __future__ import annotations

import math
from typing import Annotated, Any, NotRequired, cast

import orjson
from pydantic import Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict  # pydantic needs this one on Python < 3.12

from fraudstream.events import RAW_FIELDS, V_COLUMNS
from fraudstream.serde.errors import (
    InvalidValueError,
    MissingFieldError,
    PayloadDecodeError,
    WrongTypeError,
)
from fraudstream.serde.limits import INT64_MAX

__all__ = [
    "RawEventDict",
    "decode_raw_event",
    "encode_raw_event",
    "validate_raw_event",
]

_FLOAT_FIELDS = (*V_COLUMNS, "Amount")
_isfinite = math.isfinite
_REQUIRED = frozenset(("Id", "Timestamp", "User", "Time"))

_Finite = Annotated[float, Field(strict=True, allow_inf_nan=False)]
_fields: dict[str, Any] = {
    "Id": Annotated[int, Field(strict=True, ge=0, le=INT64_MAX)],
    "Timestamp": Annotated[str, Field(strict=True, min_length=1)],
    "User": Annotated[str, Field(strict=True, min_length=1)],
    "Time": Annotated[int, Field(strict=True, ge=0, le=INT64_MAX)],
    **dict.fromkeys(V_COLUMNS, _Finite),
    "Amount": Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0)],
    "Class": NotRequired[Annotated[int, Field(strict=True, ge=0, le=1)] | None],
}
RawEventDict = TypedDict("RawEventDict", _fields)  # type: ignore[misc]
_fast = TypeAdapter(RawEventDict)


def _int(obj: dict[str, Any], name: str) -> int:
    v = obj[name]
    if type(v) is int:
        result = v
    elif type(v) is float and v.is_integer():
        result = int(v)
    else:
        raise WrongTypeError(f"{name} must be an integer, got {type(v).__name__} {v!r}", name)
    if result < 0:
        raise InvalidValueError(f"{name} must be >= 0, got {result}", name)
    if result > INT64_MAX:
        raise InvalidValueError(f"{name} must fit a 64-bit signed long, got {result}", name)
    return result


def _str(obj: dict[str, Any], name: str) -> str:
    v = obj[name]
    if type(v) is not str:
        raise WrongTypeError(f"{name} must be a string, got {type(v).__name__}", name)
    if not v:
        raise InvalidValueError(f"{name} must not be empty", name)
    return v


def _label(v: Any) -> int | None:
    if v is None:
        return None
    if type(v) is str:
        s = v.strip().strip('"')
        if s == "":
            return None
        if not s.lstrip("-").isdigit():
            raise WrongTypeError(f"Class must be 0, 1 or null, got {v!r}", "Class")
        v = int(s)
    elif type(v) is float and v.is_integer():
        v = int(v)
    elif type(v) is not int:
        raise WrongTypeError(f"Class must be 0, 1 or null, got {type(v).__name__}", "Class")
    if v not in (0, 1):
        raise InvalidValueError(f"Class must be 0, 1 or null, got {v}", "Class")
    return int(v)


def validate_raw_event(obj: Any) -> dict[str, Any]:
    """The checked event (RAW_FIELDS order, floats as float) from a parsed JSON value."""
    if type(obj) is not dict:
        raise WrongTypeError(f"event must be a JSON object, got {type(obj).__name__}")
    try:
        floats = [obj[name] for name in _FLOAT_FIELDS]
    except KeyError:
        floats = []
    if len(floats) != len(_FLOAT_FIELDS) or not _REQUIRED.issubset(obj.keys()):
        for name in RAW_FIELDS:
            if name not in obj and name != "Class":
                raise MissingFieldError(f"required field {name} is missing", name) from None
    out: dict[str, Any] = {
        "Id": _int(obj, "Id"),
        "Timestamp": _str(obj, "Timestamp"),
        "User": _str(obj, "User"),
        "Time": _int(obj, "Time"),
    }
    # Fast path: every number already a finite float (what producers write).
    if all(type(v) is float for v in floats) and all(map(_isfinite, floats)):
        out.update(zip(_FLOAT_FIELDS, floats, strict=True))
    else:
        for name, v in zip(_FLOAT_FIELDS, floats, strict=True):
            t = type(v)
            if t is float:
                if not _isfinite(v):
                    raise InvalidValueError(f"{name} must be finite, got {v}", name)
            elif t is int:
                v = float(v)
            else:
                raise WrongTypeError(f"{name} must be a number, got {t.__name__} {v!r}", name)
            out[name] = v
    if out["Amount"] < 0:
        raise InvalidValueError(f"Amount must be >= 0, got {out['Amount']}", "Amount")
    out["Class"] = _label(obj.get("Class"))
    return out


def decode_raw_event(data: bytes) -> dict[str, Any]:
    """Parse and check one source-topic value; raises a SerdeFailure with a `reason`."""
    if not data:
        raise PayloadDecodeError("empty payload (null or zero bytes)")
    try:
        event = cast(dict[str, Any], _fast.validate_json(data))
    except ValidationError:
        pass  # slow path below: leniency, or the precise reason
    else:
        if "Class" not in event:
            event["Class"] = None
        return event
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise PayloadDecodeError(f"not valid JSON: {exc}") from None
    return validate_raw_event(obj)


def encode_raw_event(event: dict[str, Any]) -> bytes:
    """Serialize an event, checked first so nothing invalid reaches the source topic.

    Raises the same SerdeFailure subclasses as `decode_raw_event`.
    """
    return orjson.dumps(validate_raw_event(event))
