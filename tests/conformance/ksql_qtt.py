"""In-process runner for ksqlDB's query-validation tests (QTT) against the embedded engine.

The cases are third-party data read in place from `shared/ksql-conformance/` (never
copied or edited). Each case: fresh engine + in-memory registry, statements in order,
inputs fed one record at a time (outputs of one query fed on to queries reading that
topic, as Kafka Streams' TopologyTestDriver does), outputs decoded and compared with
upstream's rules (exact counts, order, 1e-6 for doubles, exact DECIMAL scale).

Run as a script to print a summary and (with --write-doc) regenerate
docs/ksql-conformance.md.
"""

from __future__ import annotations

import argparse
import base64
import collections
import csv
import io
import json
import math
import re
import struct
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro

from fraudstream.ksql.engine.engine import (
    DataSource,
    InMemorySchemaRegistry,
    InRecord,
    KsqlEngine,
    OutRecord,
)
from fraudstream.ksql.engine.formats import avro_schema_for, dumps_json
from fraudstream.ksql.engine.formats.kafka import murmur2
from fraudstream.ksql.errors import (
    KsqlError,
    KsqlParseError,
    KsqlStatementError,
    KsqlUnsupportedError,
)
from fraudstream.ksql.server.entities import render as render_entity
from fraudstream.ksql.sql import types as T
from fraudstream.ksql.sql.parser import parse

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("cases", "extra")


def _main_checkout(root: Path) -> Path:
    """The main checkout of a git worktree (its `.git` is a file naming the common dir)."""
    dotgit = root / ".git"
    if dotgit.is_file():
        m = re.match(r"gitdir:\s*(.+)", dotgit.read_text().strip())
        if m:
            gitdir = Path(m.group(1))
            common = gitdir.parent.parent if gitdir.parent.name == "worktrees" else gitdir
            return common.parent
    return root


CASES_DIR_CANDIDATES = [
    ROOT.parent / "shared" / "ksql-conformance",
    ROOT / "shared" / "ksql-conformance",
    _main_checkout(ROOT).parent / "shared" / "ksql-conformance",
]

UNSUPPORTED_FORMATS = ("PROTOBUF", "JSON_SR", "PROTOBUF_NOSR")


def cases_dir() -> Path | None:
    for c in CASES_DIR_CANDIDATES:
        if (c / "cases").is_dir():
            return c
    return None


@dataclass
class Case:
    folder: str  # "cases" or "extra"
    file: str
    name: str
    format_variant: str
    config_variant: str
    test: dict[str, Any]
    statements: list[str]
    properties: dict[str, Any]

    @property
    def is_rest(self) -> bool:
        return self.file.startswith("rest/")

    @property
    def full_name(self) -> str:
        n = f"{self.file.removesuffix('.json')} - {self.name}"
        if self.format_variant:
            n += f" - {self.format_variant}"
        if self.config_variant:
            n += f" - {self.config_variant}"
        return n


@dataclass
class Result:
    case: Case
    status: str  # pass fail unsupported
    reason: str = ""
    seconds: float = 0.0


def lenient_json(text: str) -> Any:
    """Parse upstream's lenient JSON (Jackson with comments and trailing commas allowed):
    `//` and `/* */` comments outside strings are dropped, then commas before `]`/`}`;
    floats stay exact decimals (USE_BIG_DECIMAL_FOR_FLOATS)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        else:
            out.append(ch)
            i += 1
    cleaned = "".join(out)
    try:
        return json.loads(cleaned, parse_float=Decimal)
    except json.JSONDecodeError:  # trailing commas (only then: a string may hold ", ]")
        return json.loads(re.sub(r",(\s*[}\]])", r"\1", cleaned), parse_float=Decimal)


def load_cases(base: Path | None = None, folders: tuple[str, ...] = FOLDERS) -> list[Case]:
    base = base or cases_dir()
    if base is None:
        return []
    out: list[Case] = []
    paths = [
        (folder, path)
        for folder in folders
        for path in sorted((base / folder).glob("*.json"))
        + sorted((base / folder / "rest").glob("*.json"))
    ]
    for folder, path in paths:
        data = lenient_json(path.read_text())
        for test in data.get("tests", []):
            if test.get("enabled") is False:
                continue
            formats = test.get("format") or [""]
            configs = test.get("config") or [""]
            for fmt in formats:
                for cfg in configs:
                    props = dict(test.get("properties") or {})
                    cfg_label = ""
                    for k, v in list(props.items()):
                        if v == "{CONFIG}":
                            props[k] = cfg
                            cfg_label = f"{k}={cfg}"
                    stmts = [s.replace("{FORMAT}", fmt) for s in test.get("statements", [])]
                    fname = f"rest/{path.name}" if path.parent.name == "rest" else path.name
                    out.append(
                        Case(folder, fname, test["name"], fmt, cfg_label, test, stmts, props)
                    )
    return out


# ----------------------------------------------------------------------------- execution


class Unsupported(Exception):
    """The case uses something outside the engine's subset."""


class Failure(Exception):
    """The engine produced a wrong result."""


def _java_type_matches(expected_type: str, exc: BaseException) -> bool:
    short = expected_type.rsplit(".", 1)[-1]
    if short == "ParseFailedException":
        return isinstance(exc, KsqlParseError)
    if short == "KsqlStatementException":
        return isinstance(exc, KsqlStatementError) and not isinstance(exc, KsqlUnsupportedError)
    if short == "KsqlException":
        return isinstance(exc, KsqlError) and not isinstance(exc, KsqlUnsupportedError)
    return False


def _fmt_of(spec: str) -> str:
    return spec.upper()


class CaseRunner:
    def __init__(self, case: Case) -> None:
        self.case = case
        self.registry = InMemorySchemaRegistry()
        props = {k: v for k, v in case.properties.items()}
        props.setdefault("auto.offset.reset", "earliest")
        if case.is_rest:  # upstream's RQTT server runs with scalable push queries enabled
            props.setdefault("ksql.query.push.v2.enabled", "true")
        self.engine = KsqlEngine(schema_registry=self.registry, properties=props)
        # every record ever written, global order: (partition, offset, record)
        self.log: list[tuple[int, int, OutRecord]] = []
        self.outputs: dict[str, list[OutRecord]] = collections.defaultdict(list)
        self.offsets: dict[tuple[str, int], int] = collections.defaultdict(int)
        self.topic_meta: dict[str, dict[str, Any]] = {}

    # -------------------------------------------------------------- setup
    def check_scope(self) -> None:
        t = self.case.test
        if (
            str(self.case.properties.get("ksql.new.query.planner.enabled", "false")).lower()
            == "true"
        ):
            raise Unsupported("ksql.new.query.planner.enabled=true (experimental new planner)")
        text = " ".join(self.case.statements).upper()
        for f in UNSUPPORTED_FORMATS:
            if re.search(rf"\b{f}\b", text):
                raise Unsupported(f"format {f}")
        for topic in t.get("topics", []) or []:
            for k in ("keyFormat", "valueFormat", "format"):
                v = str(topic.get(k, "")).replace("{FORMAT}", self.case.format_variant).upper()
                if v in UNSUPPORTED_FORMATS:
                    raise Unsupported(f"topic format {v}")
            if topic.get("valueSchemaReferences") or topic.get("keySchemaReferences"):
                raise Unsupported("schema references")
        exp = t.get("expectedException")
        if exp and exp.get("type", "").rsplit(".", 1)[-1] not in (
            "ParseFailedException",
            "KsqlStatementException",
            "KsqlException",
        ):
            raise Unsupported(f"runtime exception expectation {exp.get('type')}")
        if t.get("post", {}).get("topics", {}).get("topics"):
            pass

    def preregister_declared_avro(self) -> None:
        """Upstream's harness registers the schema of every AVRO topic declared by a plain
        CREATE statement before the `topics` schemas that carry no explicit id, so ids
        named in statements (VALUE_SCHEMA_ID=2) point where upstream's do."""
        listed = {
            t["name"]
            for t in self.case.test.get("topics", []) or []
            if t.get("valueSchema") is not None
        }
        if not listed or not any("SCHEMA_ID" in s.upper() for s in self.case.statements):
            return
        for text in self.case.statements:
            try:
                stmt = parse(text)[0]
            except KsqlError:
                continue
            if type(stmt).__name__ != "CreateSource":
                continue
            props = {
                str(k).upper(): getattr(v, "value", v)
                for k, v in (stmt.properties or {}).items()  # type: ignore[attr-defined]
            }
            fmt = str(props.get("VALUE_FORMAT") or props.get("FORMAT") or "").upper()
            topic = str(props.get("KAFKA_TOPIC", ""))
            elements = [e for e in stmt.elements or [] if e.constraint is None]  # type: ignore[attr-defined]
            if fmt != "AVRO" or not topic or topic in listed or not elements:
                continue
            schema = avro_schema_for([(e.name, e.type) for e in elements], None, False)
            self.registry.register(f"{topic}-value", json.dumps(schema))

    def register_topic_schemas(self) -> None:
        self.preregister_declared_avro()
        for topic in self.case.test.get("topics", []) or []:
            name = topic["name"]
            self.topic_meta[name] = topic
            for side in ("key", "value"):
                schema = topic.get(f"{side}Schema")
                if schema is None:
                    continue
                fmt = (
                    str(topic.get(f"{side}Format") or topic.get("format") or "AVRO")
                    .replace("{FORMAT}", self.case.format_variant)
                    .upper()
                )
                if fmt != "AVRO":
                    raise Unsupported(f"pre-registered {fmt} schema")
                text = (
                    schema
                    if isinstance(schema, str) and not schema.strip().startswith(("{", "["))
                    else None
                )
                sjson = json.dumps(_plain(schema)) if text is None else json.dumps(text)
                sid = topic.get(f"{side}SchemaId")
                self.registry.register(
                    f"{name}-{side}", sjson, int(sid) if sid is not None else None
                )

    # -------------------------------------------------------------- run
    def run(self) -> None:
        self.check_scope()
        self.register_topic_schemas()
        exp = self.case.test.get("expectedException")
        for stmt in ["\n".join(self.case.statements)]:
            try:
                results = self.engine.execute(stmt)
            except KsqlUnsupportedError as exc:
                raise Unsupported(str(exc).splitlines()[0]) from None
            except KsqlError as exc:
                if exp:
                    self._check_exception(exp, exc)
                    return
                raise Failure(f"statement failed: {type(exc).__name__}: {exc}") from None
            for res in results:
                if res.query is not None:
                    self._replay_into(res.query)
                for rec in res.records:
                    self._write(rec)
        if exp:
            raise Failure(
                f"expected {exp.get('type', '').rsplit('.', 1)[-1]}: "
                f"{exp.get('message', '')!r}; nothing raised"
            )
        for i, inp in enumerate(self.case.test.get("inputs", []) or []):
            self._write(self._encode_input(inp, i))
        self._compare_outputs()
        self._check_post()

    def _check_exception(self, exp: dict[str, Any], exc: KsqlError) -> None:
        etype = exp.get("type")
        msg = exp.get("message")
        if etype and not _java_type_matches(etype, exc):
            raise Failure(f"expected {etype.rsplit('.', 1)[-1]}, got {type(exc).__name__}: {exc}")
        if msg and msg not in str(exc):
            raise Failure(f"message mismatch: expected substring {msg!r}, got {str(exc)!r}")

    def _write(self, rec: OutRecord) -> None:
        """Append to the topic log and feed every query that reads the topic (depth-first)."""
        part = self._partition(rec)
        off = self.offsets[(rec.topic, part)]
        self.offsets[(rec.topic, part)] = off + 1
        self.log.append((part, off, rec))
        inrec = InRecord(rec.topic, rec.key, rec.value, rec.timestamp, part, off, rec.headers)
        for q in list(self.engine.queries.values()):
            if rec.topic in q.source_topics:
                for out in q.process(inrec):
                    self.outputs[out.topic].append(out)
                    self._write(out)

    def _partition(self, rec: OutRecord) -> int:
        """TopologyTestDriver (QTT) puts every record in partition 0."""
        return 0

    def _replay_into(self, query: Any) -> None:
        for part, off, rec in list(self.log):
            if rec.topic in query.source_topics:
                for out in query.process(
                    InRecord(rec.topic, rec.key, rec.value, rec.timestamp, part, off, rec.headers)
                ):
                    self.outputs[out.topic].append(out)
                    self._write(out)

    # -------------------------------------------------------------- encoding inputs
    def _source_for_topic(self, topic: str) -> DataSource | None:
        cands = [s for s in self.engine.sources.values() if s.topic == topic]
        if not cands:
            return None
        return cands[0]

    def _encode_input(self, inp: dict[str, Any], i: int) -> OutRecord:
        topic = inp["topic"]
        src = self._source_for_topic(topic)
        ts = int(inp.get("timestamp", 0) or 0)
        if src is None:
            return OutRecord(topic, None, None, ts)
        key = self._encode_side(inp.get("key"), src, True, topic)
        if "window" in inp and inp["window"] is not None and key is not None:
            w = inp["window"]
            if str(w.get("type", "time")).lower() == "session":
                key += struct.pack(">qq", int(w["end"]), int(w["start"]))
            else:
                key += struct.pack(">q", int(w["start"]))
        value = self._encode_side(inp.get("value"), src, False, topic)
        headers = [
            (h["KEY"], None if h.get("VALUE") is None else base64.b64decode(h["VALUE"]))
            for h in inp.get("headers") or []
        ]
        return OutRecord(topic, key, value, ts, headers)

    def _encode_side(self, v: Any, src: DataSource, is_key: bool, topic: str) -> bytes | None:
        if v is None:
            return None
        fmt = src.key_format if is_key else src.value_format
        cols = src.key_columns if is_key else src.value_columns
        name = fmt.name
        if name == "DELIMITED" or (isinstance(v, str) and name in ("DELIMITED",)):
            return str(v).encode()
        if name == "KAFKA":
            if not cols:
                return None
            t = cols[0].type
            if t.base == T.INTEGER:
                return struct.pack(">i", int(v))
            if t.base == T.BIGINT:
                return struct.pack(">q", int(v))
            if t.base == T.DOUBLE:
                return struct.pack(">d", float(v))
            if t.base == T.BYTES:
                return base64.b64decode(v)
            return str(v).encode() if not isinstance(v, str) else v.encode()
        if name == "JSON":
            return dumps_json(_plain_json(v))
        if name == "AVRO":
            return self._encode_avro(v, src, is_key, topic, cols, fmt)
        if name == "NONE":
            return None
        raise Unsupported(f"input format {name}")

    def _encode_avro(
        self, v: Any, src: DataSource, is_key: bool, topic: str, cols: list[Any], fmt: Any
    ) -> bytes:
        subject = f"{topic}-{'key' if is_key else 'value'}"
        meta = self.topic_meta.get(topic, {})
        latest = self.registry.get_latest(subject)
        if latest is not None and (meta.get(f"{'key' if is_key else 'value'}Schema") is not None):
            sid, text = latest
            schema = json.loads(text)
        else:
            unwrapped = len(cols) == 1 and (is_key or fmt.wrap_single_value is False)
            schema = avro_schema_for([(c.name, c.type) for c in cols], None, unwrapped)
            sid = self.registry.register(subject, json.dumps(schema))
        parsed = fastavro.parse_schema(schema)
        datum = _to_avro_datum(v, schema)
        buf = io.BytesIO()
        buf.write(struct.pack(">bI", 0, sid))
        fastavro.schemaless_writer(buf, parsed, datum)
        return buf.getvalue()

    # -------------------------------------------------------------- comparing outputs
    def _compare_outputs(self) -> None:
        expected = self.case.test.get("outputs", []) or []
        by_topic: dict[str, list[dict[str, Any]]] = collections.OrderedDict()
        for e in expected:
            by_topic.setdefault(e["topic"], []).append(e)
        for topic, exp_list in by_topic.items():
            actual = self.outputs.get(topic, [])
            sink = self._sink_for_topic(topic)
            if len(actual) != len(exp_list):
                shown = [self._describe_actual(a, sink) for a in actual[:6]]
                raise Failure(
                    f"topic {topic}: expected {len(exp_list)} records, got {len(actual)}: {shown}"
                )
            for n, (e, a) in enumerate(zip(exp_list, actual, strict=True)):
                try:
                    self._compare_record(e, a, sink)
                except Failure as exc:
                    raise Failure(f"topic {topic} record {n}: {exc}") from None

    def _sink_for_topic(self, topic: str) -> DataSource | None:
        cands = [s for s in self.engine.sources.values() if s.topic == topic]
        return cands[-1] if cands else None

    def _describe_actual(self, a: OutRecord, sink: DataSource | None) -> str:
        try:
            k = self._decode_key(a.key, sink)
            v = self._decode_value(a.value, sink)
        except Exception as exc:
            return f"<undecodable {exc}>"
        return f"key={k!r} value={v!r} ts={a.timestamp}"

    def _decode_key(self, data: bytes | None, sink: DataSource | None) -> Any:
        if sink is None:
            return data
        window = None
        if sink.window is not None and data is not None:
            if sink.window.type == "SESSION":
                end, start = struct.unpack(">qq", data[-16:])
                data = data[:-16]
            else:
                (start,) = struct.unpack(">q", data[-8:])
                end = start + (sink.window.size or 0)
                data = data[:-8]
            window = (start, end)
        cols = sink.key_columns
        if data is None or not cols:
            return (None, window)
        return (self._decode(data, sink.key_format, cols, True), window)

    def _decode_value(self, data: bytes | None, sink: DataSource | None) -> Any:
        if data is None or sink is None:
            return data
        return self._decode(data, sink.value_format, sink.value_columns, False)

    def _decode(self, data: bytes, fmt: Any, cols: list[Any], is_key: bool) -> Any:
        name = fmt.name
        if name == "JSON":
            return json.loads(data, parse_float=Decimal)
        if name == "DELIMITED":
            return data.decode()
        if name == "KAFKA":
            t = cols[0].type.base
            if t == T.INTEGER:
                return struct.unpack(">i", data)[0]
            if t == T.BIGINT:
                return struct.unpack(">q", data)[0]
            if t == T.DOUBLE:
                return struct.unpack(">d", data)[0]
            if t == T.BYTES:
                return base64.b64encode(data).decode()
            return data.decode()
        if name == "AVRO":
            sid = int.from_bytes(data[1:5], "big")
            schema = _raw_temporals(json.loads(self.registry.get_schema(sid)))
            return _from_avro_datum(
                fastavro.schemaless_reader(
                    io.BytesIO(data[5:]), fastavro.parse_schema(schema), None
                )
            )
        raise Failure(f"cannot decode format {name}")

    def _compare_record(self, e: dict[str, Any], a: OutRecord, sink: DataSource | None) -> None:
        if sink is None:
            raise Failure("no sink source for topic")
        akey, awin = self._decode_key(a.key, sink)
        types = {c.name: c.type for c in sink.columns}
        if not _same(
            e.get("key"),
            akey,
            None if len(sink.key_columns) != 1 else sink.key_columns[0].type,
            types,
            sink.key_format.name,
        ):
            raise Failure(f"key mismatch: expected {e.get('key')!r}, got {akey!r}")
        if "window" in e and e["window"] is not None:
            w = e["window"]
            if awin is None or int(w["start"]) != awin[0] or int(w["end"]) != awin[1]:
                raise Failure(f"window mismatch: expected {w}, got {awin}")
        aval = self._decode_value(a.value, sink)
        vt = sink.value_columns[0].type if len(sink.value_columns) == 1 else None
        if not _same(e.get("value"), aval, vt, types, sink.value_format.name):
            raise Failure(f"value mismatch: expected {e.get('value')!r}, got {aval!r}")
        if "timestamp" in e and e["timestamp"] is not None and int(e["timestamp"]) != a.timestamp:
            raise Failure(f"timestamp mismatch: expected {e['timestamp']}, got {a.timestamp}")

    # -------------------------------------------------------------- post conditions
    def _check_post(self) -> None:
        post = self.case.test.get("post") or {}
        for ps in post.get("sources", []) or []:
            name = ps["name"]
            src = self.engine.sources.get(name) or self.engine.sources.get(name.upper())
            if src is None:
                raise Failure(f"post: source {name} does not exist")
            if "type" in ps and ps["type"].upper() != src.kind:
                raise Failure(f"post: {name} is a {src.kind}, expected {ps['type']}")
            if "schema" in ps:
                want = _parse_schema(ps["schema"])
                got = [(c.name, str(c.type), c.namespace == "KEY") for c in src.columns]
                if want != got:
                    raise Failure(f"post: {name} schema {got} != expected {want}")
            kf = ps.get("keyFormat")
            if (
                isinstance(kf, dict)
                and "format" in kf
                and kf["format"].upper() != src.key_format.name
            ):
                raise Failure(f"post: {name} key format {src.key_format.name} != {kf['format']}")
            if isinstance(kf, dict) and "windowType" in kf:
                wt = src.window.type if src.window else None
                if kf["windowType"] != wt:
                    raise Failure(f"post: {name} window type {wt} != {kf['windowType']}")
            vf = ps.get("valueFormat")
            if isinstance(vf, str) and vf.upper() != src.value_format.name:
                raise Failure(f"post: {name} value format {src.value_format.name} != {vf}")


def _parse_schema(text: str) -> list[tuple[str, str, bool]]:
    stmt = parse(f"CREATE STREAM X ({text}) WITH (kafka_topic='x', value_format='JSON');")[0]
    return [
        (el.name, str(el.type), el.constraint in ("KEY", "PRIMARY KEY"))
        for el in stmt.elements or []  # type: ignore[attr-defined]
    ]


RQTT_PARTITIONS = 4


class RestCaseRunner(CaseRunner):
    """RQTT: non-SELECT statements as one /ksql request, inputs, then each SELECT as a push
    query over the topics (from the earliest offset), compared with the expected rows."""

    def run(self) -> None:
        self.check_scope()
        self.register_topic_schemas()
        stmts = self.case.statements
        admin = [s for s in stmts if not s.strip().upper().startswith("SELECT ")]
        selects = [s for s in stmts if s.strip().upper().startswith("SELECT ")]
        exp_err = self.case.test.get("expectedError")
        responses: list[dict[str, Any]] = []
        # upstream's cluster creates the input topics (4 partitions unless declared)
        for inp in self.case.test.get("inputs", []) or []:
            declared = self.topic_meta.get(inp["topic"], {}).get("partitions")
            self.engine.known_topics.setdefault(inp["topic"], int(declared or RQTT_PARTITIONS))
        try:
            if admin:
                results = self.engine.execute("\n".join(admin))
                for res in results:
                    entity = render_entity(res)  # the REST body the server would answer
                    if entity:
                        responses.append({"admin": entity})
                    if res.query is not None:
                        self._replay_into(res.query)
                    for rec in res.records:
                        self._write(rec)
            for i, inp in enumerate(self.case.test.get("inputs", []) or []):
                self._write(self._encode_input(inp, i))
            for sel in selects:
                stmt = self.engine.parse(sel)
                if len(stmt) == 1 and getattr(getattr(stmt[0], "query", None), "emit", 1) is None:
                    responses.append({"query": self._run_pull(sel)})
                    continue
                tq = self.engine.transient_query(sel)
                responses.append({"query": self._run_push(tq)})
        except KsqlUnsupportedError as exc:
            raise Unsupported(str(exc).splitlines()[0]) from None
        except KsqlError as exc:
            if exp_err:
                msg = exp_err.get("message", "")
                if msg and msg not in str(exc):
                    raise Failure(
                        f"error message mismatch: expected {msg!r}, got {str(exc)!r}"
                    ) from None
                return
            raise Failure(f"statement failed: {type(exc).__name__}: {exc}") from None
        if exp_err:
            raise Failure(f"expected error {exp_err.get('message')!r}; nothing raised")
        self._compare_responses(responses)

    def _partition(self, rec: OutRecord) -> int:
        """RQTT runs on a real (embedded) Kafka cluster whose topics have 4 partitions:
        keyed records go where Kafka's default partitioner (murmur2 of the key) puts them;
        windowed keys are partitioned by the key without its window, as Kafka Streams'
        WindowedStreamPartitioner does."""
        key = rec.key
        if key is None:
            return 0
        for src in self.engine.sources.values():
            if src.topic == rec.topic and src.window is not None:
                cut = 16 if src.window.type == "SESSION" else 8
                key = key[:-cut] if len(key) >= cut else key
                break
        declared = self.topic_meta.get(rec.topic, {}).get("partitions")
        return (murmur2(key) & 0x7FFFFFFF) % int(declared or RQTT_PARTITIONS)

    def _run_pull(self, sql: str) -> list[dict[str, Any]]:
        """A pull query, answered as the server answers `/query`: header, then rows; a stream
        or source table is scanned from the records written to its topic so far."""
        pq = self.engine.pull_query(sql)
        records = None
        if pq.scan_topic is not None:
            records = [
                InRecord(rec.topic, rec.key, rec.value, rec.timestamp, part, off)
                for part, off, rec in self.log
                if rec.topic == pq.scan_topic
            ]
        result = pq.execute(records)
        out: list[dict[str, Any]] = [{"header": {"schema": pq.header_schema()}}]
        out += [{"row": {"columns": row}} for row in result.rows]
        if result.final_message is not None:
            out.append({"finalMessage": result.final_message})
        return out

    def _run_push(self, tq: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [{"header": {"schema": tq.header_schema()}}]
        for part, off, rec in list(self.log):
            if tq.done:
                break
            if rec.topic not in tq.source_topics:
                continue
            for row in tq.process_rows(
                InRecord(rec.topic, rec.key, rec.value, rec.timestamp, part, off, rec.headers)
            ):
                entry: dict[str, Any] = {"columns": row.values}
                if row.tombstone:
                    entry["tombstone"] = True
                out.append({"row": entry})
        if tq.done:
            out.append({"finalMessage": "Limit Reached"})
        return out

    def _compare_responses(self, actual: list[dict[str, Any]]) -> None:
        expected = self.case.test.get("responses", []) or []
        exp_admin = [r["admin"] for r in expected if "admin" in r]
        act_admin = [r["admin"] for r in actual if "admin" in r]
        if len(exp_admin) != len(act_admin):
            raise Failure(f"expected {len(exp_admin)} admin responses, got {len(act_admin)}")
        for e, a in zip(exp_admin, act_admin, strict=True):
            for k, v in e.items():
                if k.endswith("|STARTS_WITH"):
                    if not str(a.get(k.split("|")[0], "")).startswith(str(v)):
                        raise Failure(
                            f"admin {k}: {a.get(k.split('|')[0])!r} does not start with {v!r}"
                        )
                elif not _subset(v, a.get(k)):
                    raise Failure(f"admin {k}: expected {v!r}, got {a.get(k)!r}")
        exp_q = [r["query"] for r in expected if "query" in r]
        act_q = [r["query"] for r in actual if "query" in r]
        ordered = bool((self.case.test.get("outputConditions") or {}).get("verifyOrder"))
        for e, a in zip(exp_q, act_q, strict=True):
            if e[0] != a[0]:
                raise Failure(f"header mismatch: expected {e[0]}, got {a[0]}")
            erows = [x for x in e[1:] if "row" in x]
            arows = [x for x in a[1:] if "row" in x]
            if len(erows) != len(arows):
                raise Failure(f"expected {len(erows)} rows, got {len(arows)}: {arows[:5]}")
            if ordered:
                pairs_ok = all(
                    _same(x, y, None, {}, "JSON") for x, y in zip(erows, arows, strict=True)
                )
            else:
                remaining = list(arows)
                pairs_ok = True
                for x in erows:
                    hit = next((y for y in remaining if _same(x, y, None, {}, "JSON")), None)
                    if hit is None:
                        pairs_ok = False
                        break
                    remaining.remove(hit)
            if not pairs_ok:
                raise Failure(f"rows mismatch: expected {erows[:5]}, got {arows[:5]}")
            efinal = [x for x in e if "finalMessage" in x]
            afinal = [x for x in a if "finalMessage" in x]
            if efinal != afinal:
                raise Failure(f"final message mismatch: expected {efinal}, got {afinal}")


def _subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            _subset(v, actual.get(k)) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(_subset(x, y) for x, y in zip(expected, actual, strict=True))
        )
    return bool(expected == actual)


# ----------------------------------------------------------------------------- value helpers


def _plain(v: Any) -> Any:
    if isinstance(v, Decimal):
        return float(v) if v != v.to_integral_value() or "." in str(v) or "E" in str(v) else int(v)
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def _plain_json(v: Any) -> Any:
    return v


def _to_avro_datum(v: Any, schema: Any) -> Any:
    """Expected-style JSON value -> Avro datum for the given schema (case-insensitive fields)."""
    if v is None:
        return None
    if isinstance(schema, list):
        non_null = [s for s in schema if s != "null"]
        return _to_avro_datum(v, non_null[0]) if len(non_null) == 1 else _plain(v)
    if isinstance(schema, str):
        if schema in ("double", "float"):
            return float(v)
        if schema in ("int", "long"):
            return int(v)
        if schema == "bytes":
            return base64.b64decode(v) if isinstance(v, str) else v
        if schema == "string" and not isinstance(v, str):
            # the QTT harness coerces JSON input values to the topic's schema type
            return str(_plain(v)).lower() if isinstance(v, bool) else str(_plain(v))
        return _plain(v)
    t = schema.get("type")
    if schema.get("logicalType") == "decimal":
        scale = int(schema.get("scale", 0))
        return Decimal(str(v)).quantize(T.decimal_quantum(scale), context=T.DECIMAL_CONTEXT)
    if t == "record":
        if not isinstance(v, dict):
            return v
        up = {str(k).upper(): x for k, x in v.items()}
        return {
            f["name"]: _to_avro_datum(v.get(f["name"], up.get(f["name"].upper())), f["type"])
            for f in schema["fields"]
        }
    if t == "array":
        return [_to_avro_datum(x, schema["items"]) for x in v]
    if t == "map":
        return {k: _to_avro_datum(x, schema["values"]) for k, x in v.items()}
    if isinstance(t, str | list):
        return _to_avro_datum(v, t)
    return _plain(v)


_TEMPORAL_LOGICAL = ("date", "time-millis", "timestamp-millis")


def _raw_temporals(schema: Any) -> Any:
    """The schema without DATE/TIME/TIMESTAMP logical types: upstream compares their raw
    int/long values (days, millis), which fastavro would otherwise turn into datetimes."""
    if isinstance(schema, list):
        return [_raw_temporals(s) for s in schema]
    if isinstance(schema, dict):
        if schema.get("logicalType") in _TEMPORAL_LOGICAL:
            return {k: v for k, v in schema.items() if k != "logicalType"}
        return {k: _raw_temporals(v) for k, v in schema.items()}
    return schema


def _from_avro_datum(v: Any) -> Any:
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    if isinstance(v, dict):
        return {k: _from_avro_datum(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_from_avro_datum(x) for x in v]
    return v


def _num_equal(e: Any, a: Any, t: T.SqlType | None) -> bool:
    if isinstance(e, bool) or isinstance(a, bool):
        return e is a or (e == a and type(e) is type(a))
    if t is not None and t.base == T.DECIMAL:
        if isinstance(e, str):
            e = Decimal(e)
        es = format(e, "f") if isinstance(e, Decimal) else str(e)
        return es == (format(a, "f") if isinstance(a, Decimal) else str(a))
    try:
        ef, af = float(e), float(a)
    except (TypeError, ValueError):
        return False
    if math.isnan(ef) and math.isnan(af):
        return True
    if isinstance(e, int) and isinstance(a, int):
        return e == a
    return abs(ef - af) < 1e-6


def _same(e: Any, a: Any, t: T.SqlType | None, types: dict[str, T.SqlType], fmt: str) -> bool:
    if e is None or a is None:
        return e is None and a is None
    if isinstance(e, dict):
        if not isinstance(a, dict) or len(a) != len(e):
            return False
        if t is not None and t.base not in (T.STRUCT, T.MAP):
            t = None  # a wrapped record: look field types up by column name
        for k, ev in e.items():
            if k in a:
                av = a[k]
                ak = k
            elif k.upper() in a:
                av = a[k.upper()]
                ak = k.upper()
            else:
                # upstream's comparator reads a missing field as JSON null
                av, ak = None, k
            ft = (
                types.get(ak) if t is None else (t.field_type(ak) if t.base == T.STRUCT else t.item)
            )
            if not _same(ev, av, ft, {}, fmt):
                return False
        return True
    if isinstance(e, list):
        if not isinstance(a, list) or len(a) != len(e):
            return False
        it = t.item if t is not None and t.base == T.ARRAY else None
        return all(_same(x, y, it, {}, fmt) for x, y in zip(e, a, strict=True))
    if isinstance(e, str) and isinstance(a, str):
        if e == a:
            return True
        if fmt == "DELIMITED":
            ef, af = e.split(","), a.split(",")
            return len(ef) == len(af) and all(
                x == y or _num_equal(x, y, None) for x, y in zip(ef, af, strict=True)
            )
        return False
    if isinstance(e, bool) or isinstance(a, bool):
        return e == a and type(e) is type(a)
    if isinstance(e, int | float | Decimal) and isinstance(a, int | float | Decimal):
        return _num_equal(e, a, t)
    if isinstance(e, str) and isinstance(a, int | float | Decimal):
        return t is not None and t.base == T.DECIMAL and _num_equal(e, a, t)
    if isinstance(e, int | Decimal) and isinstance(a, str) and fmt in ("KAFKA", "DELIMITED"):
        return str(e) == a
    return bool(e == a)


# ----------------------------------------------------------------------------- driver


def load_deviations() -> dict[str, str]:
    """Known deviations: case full name -> why (see known_deviations.tsv)."""
    out: dict[str, str] = {}
    path = Path(__file__).with_name("known_deviations.tsv")
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, why = line.partition("\t")
            out[name.strip()] = why.strip()
    return out


DEVIATIONS = load_deviations()


def run_case(case: Case) -> Result:
    t0 = time.perf_counter()
    runner = RestCaseRunner(case) if case.is_rest else CaseRunner(case)
    try:
        runner.run()
        status, reason = "pass", ""
    except Unsupported as exc:
        status, reason = "unsupported", str(exc)
    except Failure as exc:
        status, reason = "fail", str(exc)
    except Exception as exc:  # an engine crash is a failure, with its type
        status, reason = "fail", f"crash: {type(exc).__name__}: {exc}"
    why = DEVIATIONS.get(case.full_name)
    if why is not None:
        if status == "fail":
            status, reason = "deviation", f"{why} (actual: {reason})"
        elif status == "pass":
            status, reason = "fail", "listed in known_deviations.tsv but passes: remove it"
    return Result(case, status, reason[:500], time.perf_counter() - t0)


def run_all(cases: list[Case] | None = None) -> list[Result]:
    return [run_case(c) for c in (cases if cases is not None else load_cases())]


def load_index(base: Path) -> dict[tuple[str, str, str, str], dict[str, str]]:
    out = {}
    with (base / "index.tsv").open() as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            out[(row["file"], row["test_name"], row["format_variant"], row["config_variant"])] = row
    return out


def _uses_excluded_format(case: Case) -> bool:
    """PROTOBUF / JSON_SR cases: outside the coverage target by the issue's definition."""
    text = " ".join(
        [*case.statements, json.dumps(case.test.get("topics") or [], default=str)]
    ).upper()
    return any(re.search(rf"\b{f}\b", text) for f in UNSUPPORTED_FORMATS)


def _row(label: str, c: collections.Counter[str]) -> str:
    return (
        f"| {label} | {sum(c.values())} | {c['pass']} | {c['fail']} | {c['deviation']} "
        f"| {c['unsupported']} |"
    )


def write_doc(results: list[Result], path: Path) -> None:
    base = cases_dir()
    index = load_index(base) if base else {}
    per_file: dict[tuple[str, str], collections.Counter[str]] = collections.defaultdict(
        collections.Counter
    )
    per_folder: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    per_feature: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    reasons: collections.Counter[str] = collections.Counter()
    target: collections.Counter[str] = collections.Counter()
    for r in results:
        per_file[(r.case.folder, r.case.file)][r.status] += 1
        per_folder[r.case.folder][r.status] += 1
        if not _uses_excluded_format(r.case):
            target[r.status] += 1
        if r.status == "unsupported":
            reasons[re.sub(r"'[^']*'|`[^`]*`|\d+", "…", r.reason)[:90]] += 1
        if r.case.folder != "cases":
            continue
        cfg = (
            r.case.config_variant.split("=", 1)[1]
            if "=" in r.case.config_variant
            else r.case.config_variant
        )
        row = index.get((r.case.file, r.case.name, r.case.format_variant, cfg))
        tags = (row or {}).get("tags", "")
        for tag in [t for t in tags.split(",") if t] or ["(untagged)"]:
            per_feature[tag][r.status] += 1
    total = collections.Counter(r.status for r in results)
    n_target = sum(target.values())
    share = 100.0 * target["pass"] / n_target if n_target else 0.0
    lines = [
        "# KSQL conformance (ksqlDB QTT + RQTT cases, embedded engine)",
        "",
        "Generated by `python tests/conformance/ksql_qtt.py --write-doc` (also asserted by",
        "`pytest tests/conformance`). Cases are ksqlDB's own query-validation tests, read in place",
        "from `../shared/ksql-conformance/{cases,extra}/` (Confluent Community License; see the",
        "README there; upstream's lenient JSON with comments and trailing commas is accepted).",
        "Each case runs in-process: fresh engine, statements, inputs, outputs compared with",
        "upstream's rules. `unsupported` = the case uses something the embedded engine refuses",
        "at run time with a `not supported by the embedded engine` error naming the feature (a",
        "user sees the same refusal); it is never counted as a pass. The run is in-process and",
        "takes about 20 s of CPU for all cases (`pytest tests/conformance`, the test command's",
        "conformance stage). Three reasons are decided by the runner before the engine runs:",
        "PROTOBUF / JSON_SR formats (outside the coverage target), the experimental",
        "`ksql.new.query.planner.enabled` property, and expectations of Kafka Streams runtime",
        "exceptions, which ksqlDB itself only shows in its processing log.",
        "",
        f"**Total: {len(results)} cases — pass {total['pass']}, fail {total['fail']}, "
        f"known deviation {total['deviation']}, unsupported {total['unsupported']}.**",
        "",
        f"**Coverage target (PROTOBUF / JSON_SR cases excluded): {target['pass']} of {n_target} "
        f"pass ({share:.1f} %).**",
        "",
        "`deviation` = knowingly different from ksqlDB (listed with the reason in",
        "`tests/conformance/known_deviations.tsv`, shown below; never counted as a pass).",
        "`fail` = a different result or a different error than ksqlDB (the pytest case fails).",
        "",
        "| folder | cases | pass | fail | deviation | unsupported |",
        "|---|---|---|---|---|---|",
    ]
    for folder in sorted(per_folder):
        lines.append(_row(folder, per_folder[folder]))
    lines += [
        "",
        "## Per file",
        "",
        "| file | cases | pass | fail | deviation | unsupported |",
        "|---|---|---|---|---|---|",
    ]
    for folder, f in sorted(per_file):
        lines.append(_row(f"{folder}/{f}", per_file[(folder, f)]))
    lines += [
        "",
        "## Per feature tag (`cases/` only: index.tsv tags; a case counts under each tag)",
        "",
        "| tag | cases | pass | fail | deviation | unsupported |",
        "|---|---|---|---|---|---|",
    ]
    for tag in sorted(per_feature):
        lines.append(_row(tag, per_feature[tag]))
    lines += ["", "## Why cases are unsupported (grouped)", "", "| reason | cases |", "|---|---|"]
    for reason, n in reasons.most_common():
        lines.append(f"| {reason.replace('|', '/')} | {n} |")
    lines += ["", "## Failing cases", "", "| case | reason |", "|---|---|"]
    for r in results:
        if r.status == "fail":
            reason = r.reason.replace("|", "/").replace("\n", " ")[:200]
            lines.append(f"| {r.case.full_name.replace('|', '/')} | {reason} |")
    lines += ["", "## Known deviations", "", "| case | reason |", "|---|---|"]
    for r in results:
        if r.status == "deviation":
            reason = r.reason.replace("|", "/").replace("\n", " ")[:220]
            lines.append(f"| {r.case.full_name.replace('|', '/')} | {reason} |")
    lines += ["", "## Unsupported cases", "", "| case | reason |", "|---|---|"]
    for r in results:
        if r.status == "unsupported":
            reason = r.reason.replace("|", "/").replace("\n", " ")[:160]
            lines.append(f"| {r.case.full_name.replace('|', '/')} | {reason} |")
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--write-doc", action="store_true", help="write docs/ksql-conformance.md")
    ap.add_argument("--file", help="only cases from this file (e.g. joins.json)")
    ap.add_argument("--folder", choices=FOLDERS, help="only cases from this folder")
    ap.add_argument("--name", help="only cases whose name contains this text")
    ap.add_argument(
        "--show", choices=["fail", "unsupported", "pass", "all", "none"], default="fail"
    )
    args = ap.parse_args(argv)
    cases = load_cases()
    if args.file:
        cases = [c for c in cases if c.file == args.file]
    if args.folder:
        cases = [c for c in cases if c.folder == args.folder]
    if args.name:
        cases = [c for c in cases if args.name in c.name]
    t0 = time.perf_counter()
    results = run_all(cases)
    for r in results:
        if args.show == "all" or r.status == args.show:
            print(f"[{r.status}] {r.case.full_name}: {r.reason}")
    for folder in FOLDERS:
        sub = collections.Counter(r.status for r in results if r.case.folder == folder)
        if sub:
            print(f"{folder}: {dict(sub)}")
    total = collections.Counter(r.status for r in results)
    print(f"{len(results)} cases in {time.perf_counter() - t0:.1f}s: {dict(total)}")
    if args.write_doc:
        write_doc(results, ROOT / "docs" / "ksql-conformance.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
