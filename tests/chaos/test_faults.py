"""Faults against real glance-api processes and real back ends, each ending with the
consistency check (tests/chaos/consistency.py).

The database, Keystone and RabbitMQ are the real servers; a FaultProxy between them and
Glint fails the link as a dead, hung or restarted server does. The store's faults are a
real full file system (a small tmpfs) and data that cannot be read. Worker SIGKILL is a
real signal. (Uploads cut by a dead worker, SIGTERM and stalled clients: test_leases.py
and test_connections.py in tests/service.)
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid

import openstack
import pytest
import requests
import sqlalchemy as sa

from tests.chaos import consistency
from tests.chaos.faultproxy import FaultProxy
from tests.infra import keystone
from tests.service.conftest import Client, fresh_database
from tests.service.server import GlintServer
from tests.service.test_notifications import TRANSPORT_URL, Listener

OCTETS = {'Content-Type': 'application/octet-stream'}
JSON = {'Accept': 'application/json'}
RECOVERY = 60      # seconds a recovered back end may take to serve again (not a timing check)


def wait_until(check, timeout: float = RECOVERY):
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except requests.RequestException:
            result = None
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def seed(api: Client, count: int = 3) -> list[str]:
    ids = []
    for n in range(count):
        image = api.create(name='seed-%d' % n)
        assert api.upload(image['id'], os.urandom(256 * 1024 + n)).status_code == 204
        ids.append(image['id'])
    return ids


def assert_unavailable(resp: requests.Response) -> None:
    assert resp.status_code == 503, (resp.status_code, resp.text)
    assert resp.json()['code'] == '503 Service Unavailable', resp.text


# -- database -------------------------------------------------------------------------
@pytest.fixture(params=['postgresql', 'mysql'])
def proxied_database(request):
    """(GlintServer on a fresh database reached through a FaultProxy, the proxy)."""
    url, drop = fresh_database(request.param)
    real = sa.make_url(url)
    with FaultProxy(real.port) as proxy:
        proxied = real.set(port=proxy.port).render_as_string(hide_password=False)
        with GlintServer(proxied) as srv:
            yield srv, proxy
    drop()


def test_database_down_and_back(proxied_database):
    srv, proxy = proxied_database
    api = Client(srv.url)
    api.headers.update(JSON)
    active = seed(api)
    queued = api.create(name='waits')['id']

    proxy.down()
    proxy.cut()
    assert_unavailable(api.get('/v2/images'))
    assert_unavailable(api.get('/v2/images/' + active[0]))
    assert_unavailable(api.post('/v2/images', json={'name': 'during'}))
    assert_unavailable(api.put('/v2/images/%s/file' % queued, data=b'x' * 4096,
                               headers=OCTETS))
    assert_unavailable(api.get('/v2/images/%s/file' % active[0]))
    assert_unavailable(api.delete('/v2/images/' + active[1]))

    proxy.up()
    assert wait_until(lambda: api.get('/v2/images').status_code == 200)
    assert api.get('/v2/images/' + queued).json()['status'] == 'queued'
    assert api.upload(queued, b'y' * 4096).status_code == 204
    assert api.delete('/v2/images/' + active[1]).status_code == 204
    assert consistency.check(srv.url, srv.datadir) == 3
    assert ' Traceback' not in srv.log


def test_database_connections_cut_between_requests(proxied_database):
    """A database restart (or its sessions killed) while the pool is idle costs no
    request anything: every pooled connection it reset is replaced on checkout."""
    srv, proxy = proxied_database
    api = Client(srv.url)
    ids = seed(api, 2)
    for _ in range(3):
        proxy.cut()
        for image_id in ids:
            resp = api.get('/v2/images/' + image_id)
            assert resp.status_code == 200, srv.log[-3000:]
        assert api.get('/v2/images').status_code == 200
        created = api.create(name='after-cut')
        assert api.upload(created['id'], b'z' * 1000).status_code == 204
        ids.append(created['id'])
    consistency.check(srv.url, srv.datadir)


# -- Keystone -------------------------------------------------------------------------
@pytest.fixture
def keystone_behind_proxy(monkeypatch):
    """glance-api whose keystonemiddleware reaches the real Keystone only through a
    FaultProxy: it authenticates there (auth_url) and validates tokens at the identity
    endpoint the catalog gives for a region of this test's own, which names the proxy."""
    keystone.ensure_running()
    monkeypatch.setenv('OS_CLIENT_CONFIG_FILE', str(keystone.CLOUDS_YAML))
    admin = openstack.connect(cloud='glint-admin')
    region = admin.identity.create_region(id='chaos-%s' % uuid.uuid4().hex[:8])
    with FaultProxy(keystone.KEYSTONE_PORT) as proxy:
        proxied = keystone.KEYSTONE_URL.replace(':%d' % keystone.KEYSTONE_PORT,
                                                ':%d' % proxy.port)
        service = admin.identity.find_service('keystone')
        endpoints = [admin.identity.create_endpoint(
            service_id=service.id, interface=interface, url=proxied, region_id=region.id)
            for interface in ('public', 'internal', 'admin')]
        options = dict(keystone.authtoken_options(), region_name=region.id,
                       http_connect_timeout=3, http_request_max_retries=1)
        for name in ('auth_url', 'www_authenticate_uri'):
            options[name] = proxied.rsplit('/v3', 1)[0]
        try:
            # One worker: its in-process token cache is the one each request meets.
            with GlintServer(flavor='keystone', workers=1,
                             overrides={'keystone_authtoken': options}) as srv:
                yield srv, proxy
        finally:
            for endpoint in endpoints:
                admin.identity.delete_endpoint(endpoint)
            admin.identity.delete_region(region)


def fresh_token() -> dict:
    """A new token each time: keystonemiddleware caches the ones it validated."""
    password, project, _ = keystone.USERS['alpha-member']
    token, _ = keystone.get_token('alpha-member', password, project)
    return {'X-Auth-Token': token, **JSON}


@pytest.mark.parametrize('fault', ['down', 'stalled'])
def test_keystone_unreachable_answers_503(keystone_behind_proxy, fault):
    srv, proxy = keystone_behind_proxy
    headers = fresh_token()
    image = requests.post(srv.url + '/v2/images', headers=headers, json={
        'name': 'ks', 'disk_format': 'raw', 'container_format': 'bare'})
    assert image.status_code == 201, image.text
    image_id = image.json()['id']
    requests.put('%s/v2/images/%s/file' % (srv.url, image_id), data=b'k' * 5000,
                 headers={**headers, **OCTETS}).raise_for_status()

    proxy.down() if fault == 'down' else proxy.stall()
    proxy.cut()
    resp = requests.get(srv.url + '/v2/images', headers=fresh_token(), timeout=60)
    assert resp.status_code == 503, (resp.status_code, resp.text)
    # A token validated before the outage is still good (its validation is cached).
    assert requests.get(srv.url + '/v2/images/' + image_id, headers=headers).ok

    proxy.cut()
    proxy.up()
    assert wait_until(lambda: requests.get(srv.url + '/v2/images',
                                           headers=fresh_token()).status_code == 200)
    consistency.check(srv.url, srv.datadir, fresh_token())


# -- RabbitMQ -------------------------------------------------------------------------
def test_rabbitmq_down_costs_the_api_nothing():
    """Notifications are sent beside the API: with the broker gone every call still
    succeeds at once, and notifying resumes when it is back."""
    topic = 'glint_chaos_%s' % uuid.uuid4().hex[:8]
    real_port = int(TRANSPORT_URL.rsplit(':', 1)[1].strip('/'))
    with FaultProxy(real_port) as proxy:
        url = TRANSPORT_URL.replace(':%d' % real_port, ':%d' % proxy.port)
        listener = Listener(TRANSPORT_URL, topic=topic)
        overrides = {'DEFAULT': {'transport_url': url},
                     'oslo_messaging_notifications': {'driver': 'messagingv2',
                                                      'topics': topic}}
        try:
            with GlintServer(overrides=overrides) as srv:
                api = Client(srv.url)
                before = api.create(name='before')
                listener.wait('image.create', id=before['id'])

                proxy.down()
                proxy.cut()
                during = seed(api, 3)
                assert api.delete('/v2/images/' + during[0]).status_code == 204

                proxy.up()
                after = api.create(name='after')
                listener.wait('image.create', id=after['id'])
                consistency.check(srv.url, srv.datadir)
        finally:
            listener.close()


# -- the store ------------------------------------------------------------------------
@pytest.fixture
def small_store(tmp_path):
    """A file store on a real 8 MiB file system of its own."""
    mount = tmp_path / 'images'
    mount.mkdir()
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', str(mount)],
                   check=True)
    try:
        yield mount
    finally:
        subprocess.run(['umount', '-l', str(mount)], check=True)


def test_store_full(small_store):
    with GlintServer(overrides={'glance_store': {
            'filesystem_store_datadir': small_store}}) as srv:
        srv.datadir = small_store
        api = Client(srv.url)
        api.headers.update(JSON)
        kept = seed(api, 2)
        big = api.create(name='too-big')['id']

        def chunks():                                   # size unknown: chunked
            for _ in range(16):
                yield os.urandom(1024 * 1024)
        resp = api.put('/v2/images/%s/file' % big, data=chunks(), headers=OCTETS)
        assert resp.status_code == 413, (resp.status_code, resp.text)
        assert api.get('/v2/images/' + big).json()['status'] == 'queued'
        declared = api.create(name='declared-too-big')['id']
        resp = api.put('/v2/images/%s/file' % declared, data=os.urandom(9 << 20),
                       headers=OCTETS)
        assert resp.status_code == 413, (resp.status_code, resp.text)
        assert sorted(os.listdir(small_store)) == sorted(kept)
        assert api.upload(big, os.urandom(2 << 20)).status_code == 204
        consistency.check(srv.url, small_store)


@pytest.mark.server_errors
def test_store_data_unreadable():
    """Data that cannot be read (here a directory where the image's file should be):
    the download is refused with 503 and nothing else changes."""
    with GlintServer() as srv:
        api = Client(srv.url)
        api.headers.update(JSON)
        broken, good = seed(api, 2)
        path = srv.datadir / broken
        path.unlink()
        path.mkdir()
        resp = api.get('/v2/images/%s/file' % broken)
        assert resp.status_code == 503, (resp.status_code, resp.text)
        assert api.get('/v2/images/' + broken).json()['status'] == 'active'
        path.rmdir()                      # gone altogether: 204, as Glance answers
        resp = api.get('/v2/images/%s/file' % broken)
        assert resp.status_code == 204, (resp.status_code, resp.text)
        assert api.delete('/v2/images/' + broken).status_code == 204
        consistency.check(srv.url, srv.datadir)


# -- processes ------------------------------------------------------------------------
def workers(srv: GlintServer) -> list[int]:
    out = subprocess.run(['pgrep', '-P', str(srv.process.pid)], capture_output=True,
                         text=True).stdout
    return [int(pid) for pid in out.split()]


def test_worker_killed_mid_download():
    """The client sees a short body (never a wrong one); the master starts a new
    worker and the service goes on."""
    with GlintServer(workers=1) as srv:
        api = Client(srv.url)
        image = api.create(name='long')['id']
        data = os.urandom(64 << 20)
        assert api.upload(image, data).status_code == 204
        (worker,) = workers(srv)
        got = 0
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            with requests.get('%s/v2/images/%s/file' % (srv.url, image), stream=True,
                              timeout=30) as resp:
                assert resp.status_code == 200
                for chunk in resp.iter_content(1 << 16):
                    got += len(chunk)
                    if got >= 1 << 20 and worker:
                        os.kill(worker, signal.SIGKILL)
                        worker = 0
        assert got < len(data)
        assert wait_until(lambda: api.get('/v2/images/' + image).status_code == 200)
        assert consistency.check(srv.url, srv.datadir) == 1
