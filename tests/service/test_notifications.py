"""Notifications over a real RabbitMQ, as Glance sends them (oslo.messaging messagingv2).

Upstream reference: glance/notifier.py (event names, format_image_notification,
format_image_member_notification, the error image.upload message), glance/api/common.py
(image.send), glance/api/v2/image_data.py (the order of events around an upload).

The listener declares and binds ``<topic>.info`` / ``<topic>.error`` on Glance's
``glance`` exchange (Glance sets oslo.messaging's control_exchange to "glance") before
any server starts, with the very arguments oslo.messaging's rabbit driver declares them
with (a mismatch would make RabbitMQ refuse the publisher's declaration). Each test
session uses its own topic. Servers with two workers may publish the events of
different requests out of order, so tests match events by image id, and rely on the
order only within one request, or with a single worker.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import time
import uuid

import kombu
import pytest

from tests.service.conftest import DATABASES, Client, fresh_database
from tests.service.http_checks import PATCH, patch, wait_for
from tests.service.server import GlintServer, free_port

TRANSPORT_URL = os.environ.get('GLINT_TEST_TRANSPORT_URL',
                               'rabbit://guest:guest@127.0.0.1:5672/')
TOPIC = 'glint_test_notifications_%s' % uuid.uuid4().hex[:10]
EXCHANGE = 'glance'
PUBLISHER = 'image.glint-test'
OCTETS = {'Content-Type': 'application/octet-stream'}
ISOTIME = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$')
IMAGE_KEYS = {'id', 'name', 'status', 'created_at', 'updated_at', 'min_disk', 'min_ram',
              'protected', 'checksum', 'owner', 'disk_format', 'container_format',
              'size', 'virtual_size', 'is_public', 'visibility', 'properties', 'tags',
              'deleted', 'deleted_at'}
MEMBER_KEYS = {'image_id', 'member_id', 'status', 'created_at', 'updated_at',
               'deleted', 'deleted_at'}
SEND_KEYS = {'bytes_sent', 'image_id', 'owner_id', 'receiver_tenant_id',
             'receiver_user_id', 'destination_ip'}
WAIT = 30      # seconds to wait for a notification to arrive (never a timing assertion)


class Listener:
    """Collects the messagingv2 notifications published on TOPIC."""

    def __init__(self, url: str, topic: str = TOPIC):
        self.conn = kombu.Connection(url.replace('rabbit://', 'amqp://', 1))
        self.channel = self.conn.channel()
        # oslo.messaging's notify_send / _publish_and_creates_default_queue arguments
        exchange = kombu.Exchange(EXCHANGE, type='topic', durable=False,
                                  auto_delete=False)
        self.queues = [kombu.Queue(name, exchange=exchange, routing_key=name,
                                   durable=False, auto_delete=False)(self.channel)
                       for name in (topic + '.info', topic + '.error')]
        for queue in self.queues:
            queue.declare()
        self.seen: list[dict] = []

    def poll(self) -> None:
        for queue in self.queues:
            while (message := queue.get(no_ack=True)) is not None:
                envelope = json.loads(message.body)
                assert envelope['oslo.version'] == '2.0', envelope
                note = json.loads(envelope['oslo.message'])
                note['routing_key'] = message.delivery_info['routing_key']
                self.seen.append(note)

    def matching(self, event_type: str, **payload) -> list[dict]:
        return [n for n in self.seen if n['event_type'] == event_type and
                isinstance(n['payload'], dict) and
                all(n['payload'].get(k) == v for k, v in payload.items())]

    def wait(self, event_type: str, count: int = 1, **payload) -> list[dict]:
        """The notifications of ``event_type`` whose payload has these values (at
        least ``count`` of them, waiting up to WAIT seconds)."""
        def found():
            self.poll()
            return len(self.matching(event_type, **payload)) >= count
        wait_for(found, timeout=WAIT)
        notes = self.matching(event_type, **payload)
        assert len(notes) >= count, 'missing %s %s; seen: %s' % (
            event_type, payload, [(n['event_type'], n['payload']) for n in self.seen])
        return notes

    def errors(self, event_type: str, image_id: str) -> list[dict]:
        """ERROR notifications of ``event_type`` that name the image, waiting for one
        (an error image.upload's payload is Glance's message, not a dict)."""
        def found():
            self.poll()
            return [n for n in self.seen if n['event_type'] == event_type and
                    n['priority'] == 'ERROR' and image_id in json.dumps(n['payload'])]
        notes = wait_for(found, timeout=WAIT)
        assert notes, 'no error %s for %s; seen: %s' % (event_type, image_id, self.seen)
        return notes

    def of_image(self, image_id: str) -> list[dict]:
        """Every notification seen so far about one image, in arrival order."""
        self.poll()
        return [n for n in self.seen if isinstance(n['payload'], dict) and image_id in (
            n['payload'].get('id'), n['payload'].get('image_id'))]

    def close(self) -> None:
        for queue in self.queues:
            queue.delete()
        self.conn.release()


@pytest.fixture(scope='module')
def listener():
    listening = Listener(TRANSPORT_URL)
    yield listening
    listening.close()


def notifying_server(database_url=None, workers=2, **default) -> GlintServer:
    return GlintServer(database_url, workers=workers, overrides={
        'DEFAULT': {'transport_url': TRANSPORT_URL, 'default_publisher_id': PUBLISHER,
                    **default},
        'oslo_messaging_notifications': {'driver': 'messagingv2', 'topics': TOPIC},
    })


@pytest.fixture(scope='module', params=DATABASES)
def notifying(request, listener):
    """glance-api on each database back end, notifying over RabbitMQ."""
    url, drop = fresh_database(request.param)
    srv = notifying_server(url).start()
    yield srv
    srv.cleanup()
    drop()


@pytest.fixture
def alpha(notifying):
    return Client(notifying.url, 'alpha')


def check_envelope(note: dict, event_type: str, priority: str = 'INFO') -> dict:
    """What every message says besides its payload; returns the payload."""
    assert note['event_type'] == event_type
    assert note['publisher_id'] == PUBLISHER
    assert note['priority'] == priority
    assert note['routing_key'] == '%s.%s' % (TOPIC, priority.lower())
    assert uuid.UUID(note['message_id'])
    assert note['timestamp']
    assert not [k for k in note if k.startswith('_context_')], note   # no token, ever
    return note['payload']


def check_image_payload(payload: dict, image: dict, **expected) -> None:
    """Glance's image payload: exactly its keys, with the image's values."""
    assert set(payload) == IMAGE_KEYS, payload
    for key in ('id', 'name', 'owner', 'visibility', 'disk_format', 'container_format',
                'min_disk', 'min_ram', 'protected', 'virtual_size', 'created_at'):
        assert payload[key] == image[key], key
    assert payload['is_public'] is (image['visibility'] == 'public')
    assert ISOTIME.match(payload['created_at']) and ISOTIME.match(payload['updated_at'])
    for key, value in {'deleted': False, 'deleted_at': None, **expected}.items():
        assert payload[key] == value, (key, payload)


def upload(client, image_id: str, data: bytes, **headers):
    return client.put('/v2/images/%s/file' % image_id, data=data,
                      headers={**OCTETS, **headers})


# -- the image's life ----------------------------------------------------------------
def test_create_update_tags_delete(alpha, listener):
    image = alpha.create(name='n1', min_ram=64, tags=['t1'], flavor='small')
    note = listener.wait('image.create', id=image['id'])[0]
    check_image_payload(check_envelope(note, 'image.create'), image, status='queued',
                        owner='alpha', size=None, checksum=None,
                        properties={'flavor': 'small'}, tags=['t1'])

    resp = patch(alpha, image['id'], [{'op': 'replace', 'path': '/name', 'value': 'n2'},
                                      {'op': 'add', 'path': '/os_distro', 'value': 'x'}])
    assert resp.status_code == 200, resp.text
    note = listener.wait('image.update', id=image['id'], name='n2')[0]
    check_image_payload(check_envelope(note, 'image.update'), resp.json(),
                        status='queued', properties={'flavor': 'small', 'os_distro': 'x'})

    assert alpha.put('/v2/images/%s/tags/t2' % image['id']).status_code == 204
    note = listener.wait('image.update', id=image['id'], tags=['t1', 't2'])[0]
    assert note['payload']['name'] == 'n2'
    assert alpha.delete('/v2/images/%s/tags/t1' % image['id']).status_code == 204
    listener.wait('image.update', id=image['id'], tags=['t2'])

    assert alpha.delete('/v2/images/' + image['id']).status_code == 204
    note = listener.wait('image.delete', id=image['id'])[0]
    payload = check_envelope(note, 'image.delete')
    assert set(payload) == IMAGE_KEYS
    assert payload['status'] == 'deleted' and payload['deleted'] is True
    assert ISOTIME.match(payload['deleted_at']), payload
    assert payload['name'] == 'n2' and payload['tags'] == ['t2']


def test_patch_without_changes_notifies_nothing(alpha, listener):
    image = alpha.create(name='still')
    resp = alpha.patch('/v2/images/' + image['id'], json=[],
                       headers={'Content-Type': PATCH})
    assert resp.status_code == 200, resp.text
    patch(alpha, image['id'], [{'op': 'replace', 'path': '/name', 'value': 'moved'}])
    listener.wait('image.update', id=image['id'], name='moved')
    assert sorted(n['event_type'] for n in listener.of_image(image['id'])) == [
        'image.create', 'image.update']


def test_upload_events_in_glance_order(alpha, listener):
    data = os.urandom(300_000)
    image = alpha.create(name='data')
    assert upload(alpha, image['id'], data).status_code == 204
    listener.wait('image.update', id=image['id'], status='active')
    # One request, one worker, one sender thread: the order is the request's.
    events = [(n['event_type'], n['payload']['status'])
              for n in listener.of_image(image['id']) if n['event_type'] != 'image.create']
    assert events == [
        ('image.update', 'saving'), ('image.prepare', 'saving'),
        ('image.upload', 'active'), ('image.activate', 'active'),
        ('image.update', 'active')]
    checksum = alpha.get('/v2/images/' + image['id']).json()['checksum']
    assert checksum == hashlib.md5(data).hexdigest()
    imports = {'os_glance_importing_to_stores': [], 'os_glance_failed_import': []}
    for event in ('image.prepare', 'image.upload'):
        payload = check_envelope(listener.wait(event, id=image['id'])[0], event)
        assert set(payload) == IMAGE_KEYS | set(imports), payload
        assert {k: payload[k] for k in imports} == imports
    prepare = listener.wait('image.prepare', id=image['id'])[0]['payload']
    assert prepare['size'] is None and prepare['checksum'] is None
    for event in ('image.upload', 'image.activate'):
        payload = check_envelope(listener.wait(event, id=image['id'])[0], event)
        check_image_payload({k: payload[k] for k in IMAGE_KEYS}, image, status='active',
                            size=len(data), checksum=checksum)


def test_failed_upload_is_an_error_notification(alpha, listener):
    image = alpha.create(name='short')
    resp = upload(alpha, image['id'], b'12345', **{'x-openstack-image-size': '10'})
    assert resp.status_code == 400, resp.text
    message = check_envelope(listener.errors('image.upload', image['id'])[0],
                             'image.upload', 'ERROR')
    assert message == ('Cannot save data for image %s: Size of uploaded data (5) does '
                       'not match the declared size (10).' % image['id'])
    # the image went back to queued (Glance saves it: image.update), after a prepare;
    # no info image.upload and no image.activate
    restored = listener.wait('image.update', id=image['id'], status='queued')
    assert restored[-1]['payload']['size'] is None
    events = [n['event_type'] for n in listener.of_image(image['id'])]
    assert 'image.create' in events
    assert [e for e in events if e != 'image.create'] == [
        'image.update', 'image.prepare', 'image.update'], events


def test_download_sends_image_send(alpha, listener):
    data = os.urandom(2 * 1024 * 1024 + 7)
    image = alpha.create(name='sent')
    assert upload(alpha, image['id'], data).status_code == 204
    beta = Client(alpha.base, 'beta', user='beta-user')
    resp = patch(Client(alpha.base), image['id'],      # the admin publicizes it
                 [{'op': 'replace', 'path': '/visibility', 'value': 'public'}])
    assert resp.status_code == 200, resp.text

    resp = beta.get('/v2/images/%s/file' % image['id'])
    assert resp.status_code == 200 and resp.content == data
    note = listener.wait('image.send', image_id=image['id'], bytes_sent=len(data))[0]
    payload = check_envelope(note, 'image.send')
    assert payload == {'bytes_sent': len(data), 'image_id': image['id'],
                       'owner_id': 'alpha', 'receiver_tenant_id': 'beta',
                       'receiver_user_id': 'beta-user', 'destination_ip': '127.0.0.1'}

    # a range: what was asked is what was sent (info, not error)
    resp = beta.get('/v2/images/%s/file' % image['id'], headers={'Range': 'bytes=10-1033'})
    assert resp.status_code == 206 and resp.content == data[10:1034]
    note = listener.wait('image.send', image_id=image['id'], bytes_sent=1024)[0]
    assert check_envelope(note, 'image.send')['receiver_tenant_id'] == 'beta'
    resp = beta.get('/v2/images/%s/file' % image['id'], headers={'Range': 'bytes=-5'})
    assert resp.status_code == 206 and resp.content == data[-5:]
    listener.wait('image.send', image_id=image['id'], bytes_sent=5)


def test_client_leaving_mid_download_is_an_error_send(alpha, listener, notifying):
    data = os.urandom(64 * 1024 * 1024)
    image = alpha.create(name='left')
    assert upload(alpha, image['id'], data).status_code == 204
    sock = socket.create_connection(('127.0.0.1', notifying.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(('GET /v2/images/%s/file HTTP/1.1\r\nHost: x\r\nX-Project-Id: alpha'
                  '\r\nX-Roles: reader,member\r\n\r\n' % image['id']).encode())
    assert sock.recv(4096)
    sock.close()
    payload = check_envelope(listener.errors('image.send', image['id'])[0],
                             'image.send', 'ERROR')
    assert 0 < payload['bytes_sent'] < len(data), payload


def test_deactivate_reactivate_are_updates(alpha, listener, notifying):
    image = alpha.create(name='toggle')
    assert upload(alpha, image['id'], b'x' * 100).status_code == 204
    admin = Client(notifying.url)
    action = '/v2/images/%s/actions/' % image['id']
    assert admin.post(action + 'deactivate').status_code == 204
    assert admin.post(action + 'deactivate').status_code == 204    # no change: no event
    listener.wait('image.update', id=image['id'], status='deactivated')
    assert admin.post(action + 'reactivate').status_code == 204
    listener.wait('image.update', id=image['id'], status='active', count=2)
    assert len(listener.matching('image.update', id=image['id'],
                                 status='deactivated')) == 1
    # Glance has no image.deactivate / image.reactivate events
    types = {n['event_type'] for n in listener.of_image(image['id'])}
    assert not types & {'image.deactivate', 'image.reactivate'}, types


def test_member_events(alpha, listener, notifying):
    image = alpha.create(name='shared', visibility='shared')
    members = '/v2/images/%s/members' % image['id']
    assert alpha.post(members, json={'member': 'gamma'}).status_code == 200
    note = listener.wait('image.member.create', image_id=image['id'])[0]
    payload = check_envelope(note, 'image.member.create')
    assert set(payload) == MEMBER_KEYS
    assert payload['member_id'] == 'gamma' and payload['status'] == 'pending'
    assert payload['deleted'] is False and payload['deleted_at'] is None
    assert ISOTIME.match(payload['created_at']) and ISOTIME.match(payload['updated_at'])

    gamma = Client(notifying.url, 'gamma')
    resp = gamma.put(members + '/gamma', json={'status': 'accepted'})
    assert resp.status_code == 200, resp.text
    note = listener.wait('image.member.update', image_id=image['id'])[0]
    assert check_envelope(note, 'image.member.update')['status'] == 'accepted'
    assert note['payload']['member_id'] == 'gamma'

    assert alpha.delete(members + '/gamma').status_code == 204
    note = listener.wait('image.member.delete', image_id=image['id'])[0]
    payload = check_envelope(note, 'image.member.delete')
    assert set(payload) == MEMBER_KEYS
    assert payload['member_id'] == 'gamma' and payload['status'] == 'accepted'
    assert payload['deleted'] is True and ISOTIME.match(payload['deleted_at'])


def worker_read_syscalls(master_pid: int) -> int:
    """read(2)-family system calls made so far by the server's worker processes."""
    total = 0
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as f:
                ppid = int(f.read().rsplit(')', 1)[1].split()[1])
            if ppid != master_pid:
                continue
            with open('/proc/%s/io' % entry) as f:
                total += int(dict(line.split(': ') for line in f)['syscr'])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def test_download_with_image_send_still_uses_sendfile(alpha, listener, notifying):
    """The counting body keeps fileno: gunicorn sendfile()s it. Read through Python,
    64 MiB would take thousands of read(2) calls; sendfile needs a handful."""
    size = 64 * 1024 * 1024
    image = alpha.create(name='big')
    assert upload(alpha, image['id'], os.urandom(size)).status_code == 204
    before = worker_read_syscalls(notifying.process.pid)
    with alpha.get('/v2/images/%s/file' % image['id'], stream=True) as resp:
        assert resp.status_code == 200
        received = sum(len(c) for c in resp.iter_content(1024 * 1024))
    reads = worker_read_syscalls(notifying.process.pid) - before
    assert received == size
    listener.wait('image.send', image_id=image['id'], bytes_sent=size)
    assert reads < size // (64 * 1024), '%d read calls: not sendfile' % reads


# -- disabled_notifications ------------------------------------------------------------
@pytest.fixture(scope='module')
def quieter(listener):
    """One worker (so one ordered stream), with an exact name and a prefix disabled."""
    srv = notifying_server(workers=1,
                           disabled_notifications='image.create,image.member').start()
    yield srv
    srv.cleanup()


def test_disabled_notifications_by_name_and_prefix(quieter, listener):
    alpha = Client(quieter.url, 'alpha')
    image = alpha.create(name='quiet', visibility='shared')
    members = '/v2/images/%s/members' % image['id']
    assert alpha.post(members, json={'member': 'gamma'}).status_code == 200
    gamma = Client(quieter.url, 'gamma')
    assert gamma.put(members + '/gamma', json={'status': 'accepted'}).status_code == 200
    assert alpha.delete(members + '/gamma').status_code == 204
    patch(alpha, image['id'], [{'op': 'replace', 'path': '/name', 'value': 'said'}])
    # the last event of the single worker's ordered stream: everything before is out
    listener.wait('image.update', id=image['id'], name='said')
    assert [n['event_type'] for n in listener.of_image(image['id'])] == ['image.update']


# -- the log driver ------------------------------------------------------------------
def test_log_driver_writes_notifications_to_the_log():
    srv = GlintServer(overrides={'oslo_messaging_notifications': {'driver': 'log'}})
    srv.start()
    try:
        image = Client(srv.url, 'alpha').create(name='logged')
        line = wait_for(lambda: [line for line in srv.log.splitlines()
                                 if 'oslo.messaging.notification.image.create' in line
                                 and image['id'] in line], timeout=WAIT)
        assert line, srv.log
        note = json.loads(line[0][line[0].index('{'):])
        assert note['event_type'] == 'image.create'
        assert note['publisher_id'] == 'image.localhost'       # Glance's default
        assert note['payload']['id'] == image['id']
        assert note['payload']['status'] == 'queued'
    finally:
        srv.cleanup()


# -- the broker is unreachable -------------------------------------------------------
@pytest.mark.parametrize('retry', [None, 2], ids=['retry-default', 'retry-2'])
def test_unreachable_broker_costs_api_calls_nothing(retry):
    """A closed loopback port as the broker: every call still succeeds (how long they
    took is printed, never asserted) and the failure is in the server's log. With
    retries, oslo.messaging keeps the sender thread reconnecting for seconds per
    message; the API calls do not wait for it."""
    notifications = {'driver': 'messagingv2', 'topics': TOPIC}
    if retry is not None:
        notifications['retry'] = retry
    srv = GlintServer(overrides={
        'DEFAULT': {'transport_url': 'rabbit://guest:guest@127.0.0.1:%d/' % free_port()},
        'oslo_messaging_notifications': notifications})
    srv.start()
    took: dict[str, float] = {}

    def timed(name, call, *args, **kwargs):
        start = time.perf_counter()
        resp = call(*args, **kwargs)
        took[name] = time.perf_counter() - start
        return resp

    try:
        alpha = Client(srv.url, 'alpha')
        resp = timed('create', alpha.post, '/v2/images', json={
            'name': 'offline', 'disk_format': 'raw', 'container_format': 'bare',
            'visibility': 'shared'})
        assert resp.status_code == 201, resp.text
        image_id = resp.json()['id']
        data = os.urandom(1024 * 1024)
        assert timed('upload', upload, alpha, image_id, data).status_code == 204
        resp = timed('download', alpha.get, '/v2/images/%s/file' % image_id)
        assert resp.status_code == 200 and resp.content == data
        resp = timed('update', patch, alpha, image_id,
                     [{'op': 'replace', 'path': '/name', 'value': 'still-offline'}])
        assert resp.status_code == 200, resp.text
        resp = timed('add member', alpha.post, '/v2/images/%s/members' % image_id,
                     json={'member': 'gamma'})
        assert resp.status_code == 200, resp.text
        assert timed('delete', alpha.delete, '/v2/images/' + image_id).status_code == 204
        print('\nbroker unreachable (retry=%s), API latencies: %s' % (retry, ', '.join(
            '%s %.1f ms' % (name, seconds * 1000) for name, seconds in took.items())))
        expected = ['Could not send notification to %s. Payload=' % TOPIC]
        if retry:
            expected.insert(0, 'Connection failed: [Errno 111] Connection refused '
                               '(retrying in')
        for text in expected:
            logged = wait_for(lambda text=text: [line for line in srv.log.splitlines()
                                                 if ' ERROR ' in line and text in line],
                              timeout=WAIT)
            assert logged, (text, srv.log)
    finally:
        srv.cleanup()
