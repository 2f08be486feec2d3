"""Uploads as leases (issue 15, item 3): no image stays in saving once its upload is
gone, and no data stays behind.

Real glance-api processes with a 2-second lease (``upload_lease_time``): a worker
SIGKILLed mid-upload, a database that refuses the activation (a trigger, on SQLite and
PostgreSQL, directly and through glance-registry), and a delete while an upload is
under way. Every case ends queued without data, or active with it, never stuck.
"""
from __future__ import annotations

import os
import signal
import time

import pytest
import sqlalchemy as sa

from tests.service.conftest import Client, fresh_database
from tests.service.http_checks import image_files, wait_for
from tests.service.server import GlintServer, RegistryServer
from tests.service.test_image_data import put_head, raw_request, read_response

LEASE = 2
DECLARED = 10 * 1024 * 1024
PARAMS = [('direct', 'sqlite'), ('direct', 'postgresql'), ('registry', 'postgresql')]


@pytest.fixture(scope='module', params=PARAMS, ids='-'.join)
def leased(request):
    """One worker (so a test knows which process serves the upload), short leases."""
    mode, kind = request.param
    url, drop = fresh_database(kind)
    registry = RegistryServer(url) if mode == 'registry' else None
    with GlintServer(url, workers=1, registry=registry,
                     overrides={'DEFAULT': {'upload_lease_time': LEASE,
                                            'graceful_shutdown_timeout': 1}}) as srv:
        srv.kind = kind
        yield srv
    drop()


@pytest.fixture
def api(leased):
    return Client(leased.url)


def status(api, image_id: str) -> str:
    return api.get('/v2/images/' + image_id).json()['status']


def start_upload(api, server, image_id: str, sent: int = 1024 * 1024):
    """A client that declares DECLARED bytes, sends ``sent`` and stays: returns its
    socket once the server holds the image in saving with data in the store."""
    sock = raw_request(server, put_head(server, image_id, Content_Length=DECLARED),
                       os.urandom(sent))
    assert wait_for(lambda: status(api, image_id) == 'saving'
                    and image_files(server, image_id), timeout=30)
    return sock


def workers(server) -> list[int]:
    """The gunicorn master's children: its workers."""
    pid = server.process.pid
    with open('/proc/%d/task/%d/children' % (pid, pid)) as f:
        return [int(p) for p in f.read().split()]


def assert_queued_without_data(api, server, image_id: str) -> None:
    image = api.get('/v2/images/' + image_id).json()
    assert image['status'] == 'queued', image
    assert image['size'] is None and image['checksum'] is None, image
    assert image_files(server, image_id) == []


@pytest.mark.server_errors('gunicorn logs the worker it lost')
def test_worker_killed_mid_upload_returns_the_image_to_queued(api, leased):
    image = api.create(name='worker-killed')
    sock = start_upload(api, leased, image['id'])
    try:
        [worker] = workers(leased)
        os.kill(worker, signal.SIGKILL)
        # the data goes without anyone reading the image: the new worker's sweep
        assert wait_for(lambda: not image_files(leased, image['id']), timeout=60)
    finally:
        sock.close()
    assert wait_for(lambda: status(api, image['id']) == 'queued', timeout=30)
    assert_queued_without_data(api, leased, image['id'])
    data = os.urandom(1000)
    assert api.upload(image['id'], data).status_code == 204
    assert api.get('/v2/images/%s/file' % image['id']).content == data


@pytest.mark.server_errors('the upload is cut by the shutdown on purpose')
def test_a_restart_past_the_graceful_timeout_mid_upload_leaves_no_data(api, leased):
    """SIGTERM to the master with an upload under way: cut after the graceful timeout;
    once the service is back the image is queued and its data gone."""
    image = api.create(name='restarted')
    sock = start_upload(api, leased, image['id'])
    try:
        leased.stop()
        leased.start()
    finally:
        sock.close()
    assert wait_for(lambda: not image_files(leased, image['id']), timeout=60)
    assert wait_for(lambda: status(api, image['id']) == 'queued', timeout=30)
    assert_queued_without_data(api, leased, image['id'])


def test_reading_an_image_whose_upload_is_gone_reaps_it(api, leased):
    """A client that stops sending: after the lease its image is queued for whoever
    looks, the upload is given up (no renewal can succeed) and nothing is left."""
    image = api.create(name='client-silent')
    sock = start_upload(api, leased, image['id'])
    try:
        assert wait_for(lambda: status(api, image['id']) == 'queued', timeout=30)
        assert wait_for(lambda: not image_files(leased, image['id']), timeout=30)
        sock.sendall(os.urandom(300 * 1024))      # too late: more than a renewal slice
        head = read_response(sock)
    finally:
        sock.close()
    assert head.startswith(b'HTTP/1.1 409'), head
    assert_queued_without_data(api, leased, image['id'])


def test_deleting_an_image_in_saving_removes_its_partial_data(api, leased):
    image = api.create(name='deleted-while-saving')
    sock = start_upload(api, leased, image['id'])
    try:
        assert api.delete('/v2/images/' + image['id']).status_code == 204
        assert image_files(leased, image['id']) == []       # at once, not after a lease
    finally:
        sock.close()
    assert api.get('/v2/images/' + image['id']).status_code == 404
    assert wait_for(lambda: not image_files(leased, image['id']))


# -- the database refuses the activation ----------------------------------------------
TRIGGERS = {
    'sqlite': ('CREATE TRIGGER glint_test_refuse BEFORE UPDATE OF status ON images '
               'WHEN {when} BEGIN SELECT RAISE(ABORT, \'refused by the test\'); END',),
    'postgresql': (
        'CREATE OR REPLACE FUNCTION glint_test_refuse() RETURNS trigger LANGUAGE plpgsql '
        'AS $$ BEGIN RAISE EXCEPTION \'refused by the test\'; END $$',
        'CREATE TRIGGER glint_test_refuse BEFORE UPDATE OF status ON images FOR EACH ROW '
        'WHEN ({when}) EXECUTE FUNCTION glint_test_refuse()'),
}


class Refusal:
    """A trigger in the service's database that fails updates of an image's status."""

    def __init__(self, server):
        self.engine = sa.create_engine(server.database_url)
        self.kind = server.kind

    def __enter__(self):
        return self

    def refuse(self, when: str) -> None:
        with self.engine.begin() as conn:
            for statement in TRIGGERS[self.kind]:
                conn.exec_driver_sql(statement.format(when=when))

    def allow(self) -> None:
        with self.engine.begin() as conn:
            conn.exec_driver_sql('DROP TRIGGER IF EXISTS glint_test_refuse'
                                 + (' ON images' if self.kind == 'postgresql' else ''))

    def __exit__(self, *exc_info) -> None:
        self.allow()
        self.engine.dispose()


@pytest.mark.server_errors('the database refuses the activation on purpose')
def test_activation_refused_by_the_database_leaves_the_image_queued(api, leased):
    image = api.create(name='activation-refused')
    with Refusal(leased) as db:
        db.refuse("NEW.status = 'active'")
        resp = api.upload(image['id'], os.urandom(100_000))
    assert resp.status_code >= 500, resp.text
    assert_queued_without_data(api, leased, image['id'])          # at once
    assert api.upload(image['id'], b'data').status_code == 204


@pytest.mark.server_errors('the database refuses every way out of saving on purpose')
def test_a_database_refusing_all_cleanup_is_cleaned_up_after_the_lease(api, leased):
    """The activation fails and so does the return to queued: the image is stuck
    until the database takes writes again; then its lease expires and it is reaped."""
    image = api.create(name='database-stuck')
    with Refusal(leased) as db:
        db.refuse("OLD.status = 'saving'")
        resp = api.upload(image['id'], os.urandom(100_000))
        assert resp.status_code >= 500, resp.text
        assert status(api, image['id']) == 'saving'
        db.allow()
        assert wait_for(lambda: status(api, image['id']) == 'queued', timeout=30)
    assert_queued_without_data(api, leased, image['id'])


def test_an_upload_that_keeps_sending_outlives_its_lease(api, leased):
    """Renewed while data flows: an upload lasting three leases activates, however
    often the image is read meanwhile (each read would reap an expired one)."""
    image = api.create(name='slow-but-alive')
    piece = os.urandom(300 * 1024)          # more than a renewal slice every 0.25 s
    sock = raw_request(leased, put_head(leased, image['id'],
                                        Content_Length=len(piece) * 4 * 3 * LEASE))
    try:
        for _ in range(4 * 3 * LEASE):
            assert status(api, image['id']) in ('queued', 'saving')
            sock.sendall(piece)
            time.sleep(0.25)
        head = read_response(sock)
    finally:
        sock.close()
    assert head.startswith(b'HTTP/1.1 204'), head
    assert status(api, image['id']) == 'active'
