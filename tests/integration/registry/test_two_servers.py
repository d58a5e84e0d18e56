"""Two registry servers on one `_schemas` topic never hand out one id for two schemas
(issue 21 item 9). Confluent avoids it with a single elected leader; the embedded registry
reserves each id through the topic itself: a claim record, applied in log order by every
server, where the first claim of an id (or of a subject version) wins and the loser picks
again. Here both servers register different schemas at the same time, many times over."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from fraudstream.local.procs import free_port
from fraudstream.registry.server import RegistryServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def schema(server: int, i: int) -> str:
    return json.dumps(
        {"type": "record", "name": f"S{server}R{i}", "fields": [{"name": "f", "type": "long"}]}
    )


def test_concurrent_registrations_on_two_servers_never_share_an_id(kafka_bootstrap: str) -> None:
    topic = f"_schemas-{uuid.uuid4().hex[:10]}"
    a = RegistryServer(kafka_bootstrap, port=free_port(), topic=topic)
    b = RegistryServer(kafka_bootstrap, port=free_port(), topic=topic)
    a.start(timeout=60)
    b.start(timeout=60)
    try:
        a.registry.set_level(None, "NONE")  # unrelated records may share a subject here
        b.log.append(b'{"keytype":"NOOP","magic":0}', None)  # b has now read a's config
        jobs = [(n, srv, i) for i in range(25) for n, srv in enumerate((a, b))]
        # the same subject from both servers too: versions must not collide either
        with ThreadPoolExecutor(8) as pool:
            got = list(
                pool.map(
                    lambda job: (
                        job[0],
                        job[2],
                        job[1].registry.register(f"subj-{job[2] % 5}", schema(job[0], job[2])),
                    ),
                    jobs,
                )
            )
        by_id: dict[int, set[str]] = {}
        for n, i, sv in got:
            by_id.setdefault(sv.id, set()).add(schema(n, i))
        shared = {i: s for i, s in by_id.items() if len(s) > 1}
        assert not shared, f"ids handed out for different schemas: {sorted(shared)}"
        assert len(by_id) == 50
        # both servers agree on every id and every subject's versions
        for srv in (a, b):
            for n, i, sv in got:
                assert srv.state.schemas[sv.id] == schema(n, i)
        assert a.state.versions == b.state.versions
        versions = [(sv.subject, sv.version) for _, _, sv in got]
        assert len(set(versions)) == 50, "two schemas got the same subject version"
    finally:
        a.stop()
        b.stop()
