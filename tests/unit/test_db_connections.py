"""PostgreSQL connections the server closed are replaced at checkout without a SELECT 1
per checkout (glint.db.sqlalchemy.api.create_engine), against the local server."""
import os
import tempfile
import time
import uuid

import psycopg
import pytest
import sqlalchemy as sa

from glint.db.sqlalchemy import api as sql_api
from glint.db.sqlalchemy import migrate

URL = os.environ.get('GLINT_TEST_POSTGRESQL_URL',
                     'postgresql+psycopg://postgres@127.0.0.1:5432/postgres')


@pytest.fixture(scope='module')
def admin():
    try:
        conn = psycopg.connect(sa.engine.make_url(URL).set(drivername='postgresql')
                               .render_as_string(hide_password=False), autocommit=True)
    except psycopg.OperationalError as e:
        pytest.skip('no PostgreSQL server: %s' % e)
    yield conn
    conn.close()


def _backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text('SELECT pg_backend_pid()')).scalar()


def _terminate(admin, pid: int) -> None:
    admin.execute('SELECT pg_terminate_backend(%s)', (pid,))
    for _ in range(100):
        if not admin.execute('SELECT 1 FROM pg_stat_activity WHERE pid = %s',
                             (pid,)).fetchone():
            return
        time.sleep(0.05)
    raise AssertionError('backend %d still there' % pid)


def test_a_terminated_connection_is_replaced_at_checkout(admin):
    engine = sql_api.create_engine(URL)
    try:
        first = _backend_pid(engine)
        assert _backend_pid(engine) == first        # pooled: the same connection again
        _terminate(admin, first)
        second = _backend_pid(engine)               # no error: a fresh connection
        assert second != first
        assert _backend_pid(engine) == second
    finally:
        engine.dispose()


def test_without_the_check_the_same_checkout_fails(admin):
    """What the check prevents: the pool hands out the dead connection."""
    engine = sa.create_engine(URL)
    try:
        _terminate(admin, _backend_pid(engine))
        with pytest.raises(sa.exc.OperationalError):
            _backend_pid(engine)
    finally:
        engine.dispose()


@pytest.fixture
def database(admin):
    """A fresh, migrated database and a libpq trace of what Glint sends to it."""
    name = 'glint_unit_%d' % os.getpid()
    admin.execute('DROP DATABASE IF EXISTS %s WITH (FORCE)' % name)
    admin.execute('CREATE DATABASE %s' % name)
    engine = sql_api.create_engine(sa.engine.make_url(URL).set(database=name)
                                   .render_as_string(hide_password=False))
    migrate.upgrade(engine)
    engine.dispose()
    trace = Trace()
    sa.event.listen(engine, 'connect', trace.start)
    yield sql_api.Database(engine), trace
    engine.dispose()
    trace.file.close()
    admin.execute('DROP DATABASE IF EXISTS %s WITH (FORCE)' % name)


class Trace:
    """What the client sent, one entry per round trip, from a libpq trace: a simple
    Query (its text) or an extended-protocol statement (ending with Sync)."""

    def __init__(self):
        self.file = tempfile.TemporaryFile()
        self.seen = 0
        self.conns = []

    def start(self, dbapi_conn, _record=None) -> None:
        dbapi_conn.pgconn.trace(self.file.fileno())
        self.conns.append(dbapi_conn)

    def new_round_trips(self) -> list[str]:
        for conn in self.conns:      # libpq buffers its trace: untrace flushes it
            conn.pgconn.untrace()
            conn.pgconn.trace(self.file.fileno())
        fd = self.file.fileno()
        size = os.fstat(fd).st_size
        out = []
        for line in os.pread(fd, size, 0).decode(errors='replace').splitlines():
            fields = line.split('\t')     # a statement's text may span lines: skip those
            if len(fields) >= 4 and fields[1] == 'F' and fields[3] in ('Query', 'Sync'):
                out.append(fields[4].strip() if fields[3] == 'Query' else 'statement')
        new, self.seen = out[self.seen:], len(out)
        return new


def test_showing_an_image_is_two_statements(database):
    """No SELECT 1 ping, no BEGIN / COMMIT around a read, and the properties, tags and
    locations in one query: a round trip each was most of a show."""
    db, trace = database
    image = db.image_create({'id': str(uuid.uuid4()), 'status': 'queued',
                             'visibility': 'public', 'owner': 'p1', 'min_disk': 0,
                             'min_ram': 0, 'protected': False, 'os_hidden': False},
                            {'k': 'v', 'k2': 'v2'}, ['t1', 't2'])
    db.image_update(image['id'], {}, add_locations=[('file:///x', {'a': 1})])
    for _ in range(5):          # psycopg prepares a statement on its 5th use: one more
        db.image_get(image['id'])   # round trip, once
    trace.new_round_trips()
    for attempt in range(3):
        got = db.image_get(image['id'])
        assert got['properties'] == {'k': 'v', 'k2': 'v2'}
        assert got['tags'] == ['t1', 't2']
        assert got['locations'] == [{'url': 'file:///x', 'metadata': {'a': 1}}]
        trips = trace.new_round_trips()
        assert trips == ['statement', 'statement'], (attempt, trips)
