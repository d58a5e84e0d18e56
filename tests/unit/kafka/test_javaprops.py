from __future__ import annotations

from pathlib import Path

from fraudstream.kafka.javaprops import parse_properties, read_properties


def test_separators_comments_and_blank_lines() -> None:
    text = """
# a comment
! another comment
security.protocol=SASL_SSL
sasl.mechanism : PLAIN
client.id   fraud
   ssl.endpoint.identification.algorithm=
"""
    assert parse_properties(text) == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "client.id": "fraud",
        "ssl.endpoint.identification.algorithm": "",
    }


def test_continuation_lines_and_escapes() -> None:
    text = (
        "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule \\\n"
        '    required username="key" \\\n'
        '    password="p=a:ss";\n'
        "path=C:\\\\certs\\\\ca.pem\n"
        "snow=\\u2603\n"
        "a\\=b=c\n"
    )
    props = parse_properties(text)
    assert props["sasl.jaas.config"] == (
        'org.apache.kafka.common.security.plain.PlainLoginModule required username="key" '
        'password="p=a:ss";'
    )
    assert props["path"] == "C:\\certs\\ca.pem"
    assert props["snow"] == "\u2603"
    assert props["a=b"] == "c"


def test_later_keys_win_and_file_is_read_as_utf8(tmp_path: Path) -> None:
    f = tmp_path / "client.properties"
    f.write_text("k=1\nk=2\nname=Zoë\n", encoding="utf-8")
    assert read_properties(f) == {"k": "2", "name": "Zoë"}
