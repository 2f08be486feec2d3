"""The fuzzer's harness: the service suites' servers (one real glance-api per mode and
database back end, picked by GLINT_TEST_DATABASES / GLINT_TEST_MODES as in
tests/service/conftest.py), a snapshot of what a refused request must leave as it was,
and ``fuzz.request``, which sends one request and checks its answer."""
from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings

from tests.fuzz import wire
from tests.service.conftest import Client, no_server_errors, server  # noqa: F401 fixtures
from tests.service.server import RegistryServer, ServiceProcess

# CI's budget per route and server; `make fuzz` (or the variable) for long runs.
settings.register_profile(
    'glint', max_examples=int(os.environ.get('GLINT_FUZZ_EXAMPLES', '60')),
    deadline=None, database=None, print_blob=True,
    # one server and one image for all examples of a test is the point
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large, HealthCheck.filter_too_much])
settings.load_profile('glint')

TABLES = ('images', 'image_properties', 'image_tags', 'image_members',
          'image_locations')


class Fuzz:
    """Sends requests to one server; every answer is checked."""

    def __init__(self, srv, check_error=wire.assert_glance_error):
        self.server = srv
        self.check_error = check_error
        self.port = srv.port
        url = srv.database_url
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        self.api = Client(srv.url)
        self.api.headers['Accept'] = 'application/json'

    def snapshot(self, ignore=frozenset()):
        """Every row of the image tables (less the ``ignore``d columns) and every file
        of the store."""
        def row(r):
            return tuple((k, v) for k, v in r._mapping.items() if k not in ignore)
        with self.engine.connect() as conn:
            rows = {t: sorted((row(r) for r in conn.exec_driver_sql('SELECT * FROM ' + t)),
                              key=repr) for t in TABLES}
        store = getattr(self.server, 'datadir', None)      # a registry has none
        rows['files'] = sorted((p.name, p.stat().st_size) for p in store.rglob('*')
                               if p.is_file()) if store and store.exists() else []
        return rows

    def request(self, method: str, target: str, headers=(), body: bytes | None = None,
                ignore=frozenset()) -> wire.Answer:
        """Send; then: no 5xx, no ERROR in any live service's log, and a 4xx answers in
        Glance's shape and changed nothing (but the ``ignore``d columns)."""
        headers = list(headers)
        accept = next((v for k, v in headers if k.lower() == 'accept'), None)
        logs = {srv: srv.log_size() for srv in ServiceProcess.live}
        before = self.snapshot(ignore)
        answer = wire.send(self.port, method, target, headers, body)
        assert answer.status < 500, answer
        for srv, offset in logs.items():
            errors = [line for line in srv.log_since(offset).splitlines()
                      if ' ERROR ' in line]
            assert not errors, '%s logged:\n%s' % (srv.command, '\n'.join(errors))
        if answer.status >= 400:
            if method != 'HEAD':
                self.check_error(answer, accept)
            after = self.snapshot(ignore)
            assert after == before, 'a refused request changed the database:\n%s\n%s' % (
                answer, _difference(before, after))
        return answer

    def image(self, **body) -> dict:
        """A fresh image (through the API, outside any check)."""
        return self.api.create(**{'name': 'fuzz', 'visibility': 'shared', **body})


def _difference(before: dict, after: dict) -> str:
    lines = []
    for table in before:
        gone = [r for r in before[table] if r not in after[table]]
        new = [r for r in after[table] if r not in before[table]]
        lines += ['%s - %r' % (table, r) for r in gone] + ['%s + %r' % (table, r) for r in new]
    return '\n'.join(lines)


@pytest.fixture
def fuzz(server):  # noqa: F811 (the imported fixture)
    f = Fuzz(server)
    yield f
    f.engine.dispose()


@pytest.fixture(scope='module')
def registry():
    """A glance-registry of its own (SQLite, no auth: the caller is an administrator)."""
    with RegistryServer() as srv:
        yield srv


@pytest.fixture
def rpc(registry):
    f = Fuzz(registry, check_error=wire.assert_registry_error)
    yield f
    f.engine.dispose()
