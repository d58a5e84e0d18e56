"""Id reservation through the `_schemas` topic (issue 21 item 9): every server decides each
claim alike from the log order; a SCHEMA record that contradicts an applied one is skipped."""

from __future__ import annotations

import json

from fraudstream.registry.state import (
    RegistryState,
    SubjectVersion,
    claim_key,
    claim_value,
    schema_key,
    schema_value,
)


def _text(name: str) -> str:
    return json.dumps({"type": "record", "name": name, "fields": [{"name": "f", "type": "long"}]})


def _canonical(state: RegistryState, name: str) -> str:
    return state._canonical(_text(name))


def test_the_first_claim_of_an_id_wins_and_the_second_loses() -> None:
    state = RegistryState()
    state.apply(claim_key("a", 0), claim_value(1, "s1", 1, _canonical(state, "A")))
    state.apply(claim_key("b", 0), claim_value(1, "s2", 1, _canonical(state, "B")))
    assert state.claim_results == {("a", 0): True, ("b", 0): False}
    # the same schema may claim the id it already holds, under another subject
    state.apply(claim_key("b", 1), claim_value(1, "s3", 1, _canonical(state, "A")))
    assert state.claim_results[("b", 1)] is True
    # a subject version is claimed once; a schema with an id cannot claim another one
    state.apply(claim_key("c", 0), claim_value(2, "s1", 1, _canonical(state, "C")))
    state.apply(claim_key("c", 1), claim_value(3, "s9", 1, _canonical(state, "A")))
    assert state.claim_results[("c", 0)] is False and state.claim_results[("c", 1)] is False
    state.apply(claim_key("a", 0), None)  # released
    assert ("a", 0) not in state.claim_results


def test_a_schema_record_that_reuses_an_id_for_another_schema_is_skipped() -> None:
    state = RegistryState()
    state.apply(schema_key("s1", 1), schema_value(SubjectVersion("s1", 1, 7, _text("A"))))
    state.apply(schema_key("s2", 1), schema_value(SubjectVersion("s2", 1, 7, _text("B"))))
    state.apply(schema_key("s1", 1), schema_value(SubjectVersion("s1", 1, 8, _text("C"))))
    assert state.schemas == {7: _text("A")}
    assert "s2" not in state.versions and state.versions["s1"][1].id == 7
    assert state.conflicts == 2
    # a soft delete rewrites the same record: not a conflict
    state.apply(
        schema_key("s1", 1), schema_value(SubjectVersion("s1", 1, 7, _text("A"), deleted=True))
    )
    assert state.versions["s1"][1].deleted and state.conflicts == 2
