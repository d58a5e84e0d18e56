"""The local broker's JVM options: the measured default reaches the java command line, the
environment (`FRAUDSTREAM_LOCAL_KAFKA_*`) and the constructor override it, and a value that
is not a list of JVM options is refused naming the variable (issue 18 item 2)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fraudstream.errors import ConfigError
from fraudstream.local.kafka import DEFAULT_JVM_OPTIONS, LocalKafka

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="needs java on PATH")

LIBS = Path("/libs")


def command(broker: LocalKafka) -> list[str]:
    return broker._java(LIBS)


def test_the_default_is_the_c1_only_jit_between_the_project_flags_and_the_classpath(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FRAUDSTREAM_LOCAL_KAFKA_JVM_OPTIONS", raising=False)
    monkeypatch.delenv("FRAUDSTREAM_LOCAL_KAFKA_HEAP", raising=False)
    cmd = command(LocalKafka(tmp_path))
    assert DEFAULT_JVM_OPTIONS == "-XX:TieredStopAtLevel=1"
    assert cmd.index("-XX:TieredStopAtLevel=1") < cmd.index("-cp")
    assert cmd.index("-XX:TieredStopAtLevel=1") > cmd.index("-XX:+UseG1GC")  # later wins
    assert "-Xmx512m" in cmd and "-Xms512m" in cmd
    assert "-XX:+AlwaysPreTouch" in cmd  # the heap resident from the start (flat RSS)


def test_the_environment_replaces_the_options_and_the_heap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "FRAUDSTREAM_LOCAL_KAFKA_JVM_OPTIONS",
        "-XX:+UseStringDeduplication '-Dfraudstream.note=a b'",
    )
    monkeypatch.setenv("FRAUDSTREAM_LOCAL_KAFKA_HEAP", "1g")
    cmd = command(LocalKafka(tmp_path))
    assert "-XX:TieredStopAtLevel=1" not in cmd
    assert cmd[cmd.index("-cp") - 2 : cmd.index("-cp")] == [
        "-XX:+UseStringDeduplication",
        "-Dfraudstream.note=a b",
    ]
    assert "-Xmx1g" in cmd and "-Xmx512m" not in cmd


def test_an_empty_value_leaves_the_jvm_default_tiered_jit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAUDSTREAM_LOCAL_KAFKA_JVM_OPTIONS", "")
    cmd = command(LocalKafka(tmp_path))
    assert not [a for a in cmd if a.startswith("-XX:Tiered")]
    assert cmd[cmd.index("-cp") - 1].startswith("-Dlog4j2.configurationFile=")


def test_the_constructor_overrides_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAUDSTREAM_LOCAL_KAFKA_JVM_OPTIONS", "-XX:+UseStringDeduplication")
    cmd = command(LocalKafka(tmp_path, heap="256m", jvm_options=("-XX:CICompilerCount=2",)))
    assert "-XX:CICompilerCount=2" in cmd and "-XX:+UseStringDeduplication" not in cmd
    assert "-Xmx256m" in cmd


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("JVM_OPTIONS", "-Xss1m kafka.Kafka", "every word must be a JVM option"),
        ("JVM_OPTIONS", "-Dx='unclosed", "not shell-quoted correctly"),
        ("HEAP", "lots", "should match pattern"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(f"FRAUDSTREAM_LOCAL_KAFKA_{variable}", value)
    with pytest.raises(ConfigError, match=f"FRAUDSTREAM_LOCAL_KAFKA_{variable}: .*{message}"):
        LocalKafka(tmp_path)
