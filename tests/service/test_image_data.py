"""Image data over HTTP: upload failures leave nothing behind, ranged and refused downloads.

Upstream reference: glance/api/v2/image_data.py (ImageDataController.upload/download,
RequestDeserializer, ResponseSerializer.download) and glance/common/wsgi.py
(get_range_from_request). A failed upload puts the image back to ``queued`` and leaves
no data in the store; no request may ever get a 5xx.
"""
import hashlib
import os
import shutil
import socket
import threading
import uuid

import pytest

from tests.service.conftest import DATABASES, Client, fresh_database
from tests.service.http_checks import image_files, wait_for
from tests.service.server import GlintServer

OCTETS = {'Content-Type': 'application/octet-stream'}
SIZE_CAP = 1000
STORAGE_QUOTA = 2500


@pytest.fixture(scope='module', params=DATABASES)
def limited(request):
    """A glance-api with a small image_size_cap and user_storage_quota."""
    url, drop = fresh_database(request.param)
    srv = GlintServer(url, overrides={'DEFAULT': {
        'image_size_cap': SIZE_CAP, 'user_storage_quota': str(STORAGE_QUOTA)}}).start()
    yield srv
    srv.cleanup()
    drop()


def status(client, image_id):
    return client.get('/v2/images/' + image_id).json()['status']


def assert_back_to_queued(client, server, image_id):
    """The failed upload left the image queued, without data, and nothing in the store."""
    image = client.get('/v2/images/' + image_id).json()
    assert image['status'] == 'queued', image
    assert image['size'] is None and image['checksum'] is None, image
    assert image_files(server, image_id) == []


def chunks(data: bytes, size: int = 100):
    """A generator body: requests sends it with Transfer-Encoding: chunked."""
    for start in range(0, len(data), size):
        yield data[start:start + size]


def raw_request(server, head: str, body: bytes = b'') -> socket.socket:
    sock = socket.create_connection(('127.0.0.1', server.port))
    sock.sendall(head.encode() + b'\r\n' + body)
    return sock


def read_response(sock: socket.socket) -> bytes:
    sock.settimeout(30)
    data = b''
    while b'\r\n\r\n' not in data:
        more = sock.recv(65536)
        if not more:
            break
        data += more
    return data


def put_head(server, image_id: str, **headers) -> str:
    lines = ['PUT /v2/images/%s/file HTTP/1.1' % image_id,
             'Host: 127.0.0.1:%d' % server.port,
             'Content-Type: application/octet-stream']
    lines += ['%s: %s' % (k.replace('_', '-'), v) for k, v in headers.items()]
    return '\r\n'.join(lines) + '\r\n'


# -- refused uploads ----------------------------------------------------------------
@pytest.mark.parametrize('content_type', ['application/json', 'text/plain',
                                          'application/x-www-form-urlencoded', None])
def test_upload_with_wrong_content_type_is_415(api, server, content_type):
    image = api.create(name='ctype')
    resp = api.put('/v2/images/%s/file' % image['id'], data=b'abc',
                   headers={'Content-Type': content_type})
    assert resp.status_code == 415, resp.text
    assert_back_to_queued(api, server, image['id'])


def test_upload_to_active_image_is_409(api, server):
    image = api.create(name='twice')
    assert api.upload(image['id'], b'first').status_code == 204
    resp = api.upload(image['id'], b'second')
    assert resp.status_code == 409, resp.text
    shown = api.get('/v2/images/' + image['id']).json()
    assert shown['status'] == 'active' and shown['size'] == 5
    assert api.get('/v2/images/%s/file' % image['id']).content == b'first'


def test_upload_to_deactivated_image_is_409(api):
    image = api.create(name='deactivated-upload')
    assert api.upload(image['id'], b'data').status_code == 204
    assert api.post('/v2/images/%s/actions/deactivate' % image['id']).status_code == 204
    assert api.upload(image['id'], b'other').status_code == 409
    assert status(api, image['id']) == 'deactivated'


@pytest.mark.parametrize('formats', [{}, {'disk_format': 'raw'},
                                     {'container_format': 'bare'}])
def test_upload_before_formats_are_set_is_400(api, server, formats):
    resp = api.post('/v2/images', json={'name': 'no-formats', **formats})
    assert resp.status_code == 201, resp.text
    image = resp.json()
    resp = api.upload(image['id'], b'data')
    assert resp.status_code == 400, resp.text
    assert_back_to_queued(api, server, image['id'])


@pytest.mark.parametrize('declared', [+10, -1, -5000])
def test_declared_size_mismatch_is_400_and_image_back_to_queued(api, server, declared):
    image = api.create(name='mismatch')
    data = os.urandom(4096)
    resp = api.upload(image['id'], data, **{'x-openstack-image-size': str(len(data) + declared)})
    assert resp.status_code == 400, resp.text
    assert_back_to_queued(api, server, image['id'])
    # the image still takes a correct upload
    assert api.upload(image['id'], data).status_code == 204
    assert api.get('/v2/images/' + image['id']).json()['size'] == len(data)


@pytest.mark.parametrize('declared', ['abc', '', '1.5'])
def test_invalid_declared_size_is_400(api, server, declared):
    image = api.create(name='bad-size-header')
    resp = api.upload(image['id'], b'data', **{'x-openstack-image-size': declared})
    assert resp.status_code == 400, resp.text
    assert_back_to_queued(api, server, image['id'])


def test_matching_declared_size_is_fine(api):
    image = api.create(name='declared')
    resp = api.upload(image['id'], b'12345', **{'x-openstack-image-size': '5'})
    assert resp.status_code == 204, resp.text
    assert api.get('/v2/images/' + image['id']).json()['size'] == 5


def test_declared_size_zero_means_unknown(api):
    """glance_store checks the size only when it is not 0 ("zero -> unknown size")."""
    image = api.create(name='declared-zero')
    resp = api.upload(image['id'], b'12345', **{'x-openstack-image-size': '0'})
    assert resp.status_code == 204, resp.text
    assert api.get('/v2/images/' + image['id']).json()['size'] == 5


# -- size cap and storage quota -------------------------------------------------------
def test_image_size_cap_with_content_length_is_413(limited):
    client = Client(limited.url, 'cap-' + uuid.uuid4().hex)
    image = client.create(name='too-big')
    resp = client.upload(image['id'], os.urandom(SIZE_CAP + 1))
    assert resp.status_code == 413, resp.text
    assert_back_to_queued(client, limited, image['id'])
    data = os.urandom(SIZE_CAP)
    assert client.upload(image['id'], data).status_code == 204
    assert client.get('/v2/images/%s/file' % image['id']).content == data


def test_image_size_cap_with_chunked_body_is_413(limited):
    client = Client(limited.url, 'cap-' + uuid.uuid4().hex)
    image = client.create(name='too-big-chunked')
    resp = client.put('/v2/images/%s/file' % image['id'],
                      data=chunks(os.urandom(SIZE_CAP * 3)), headers=OCTETS)
    assert resp.status_code == 413, resp.text
    assert_back_to_queued(client, limited, image['id'])


def test_chunked_upload_within_the_cap_works(limited):
    client = Client(limited.url, 'cap-' + uuid.uuid4().hex)
    image = client.create(name='chunked-ok')
    data = os.urandom(SIZE_CAP)
    resp = client.put('/v2/images/%s/file' % image['id'], data=chunks(data, 77),
                      headers=OCTETS)
    assert resp.status_code == 204, resp.text
    shown = client.get('/v2/images/' + image['id']).json()
    assert shown['size'] == SIZE_CAP and shown['checksum'] == hashlib.md5(data).hexdigest()


def test_declared_size_over_the_cap_is_413(limited):
    client = Client(limited.url, 'cap-' + uuid.uuid4().hex)
    image = client.create(name='declared-too-big')
    resp = client.put('/v2/images/%s/file' % image['id'], data=chunks(b'x' * 10),
                      headers={**OCTETS, 'x-openstack-image-size': str(SIZE_CAP + 1)})
    assert resp.status_code == 413, resp.text
    assert_back_to_queued(client, limited, image['id'])


@pytest.mark.parametrize('chunked', [False, True], ids=['content-length', 'chunked'])
def test_user_storage_quota_is_413(limited, chunked):
    client = Client(limited.url, 'quota-' + uuid.uuid4().hex)
    for _ in range(2):                      # 2000 of the 2500 bytes
        image = client.create(name='quota-fill')
        assert client.upload(image['id'], os.urandom(1000)).status_code == 204
    image = client.create(name='quota-over')
    data = os.urandom(600)
    body = chunks(data) if chunked else data
    resp = client.put('/v2/images/%s/file' % image['id'], data=body, headers=OCTETS)
    assert resp.status_code == 413, resp.text
    assert_back_to_queued(client, limited, image['id'])
    # what is left of the quota can still be used
    assert client.upload(image['id'], data[:500]).status_code == 204
    # another project has its own quota
    other = Client(limited.url, 'quota-' + uuid.uuid4().hex)
    image = other.create(name='quota-other')
    assert other.upload(image['id'], data).status_code == 204


def test_deleting_an_image_frees_its_quota(limited):
    client = Client(limited.url, 'quota-' + uuid.uuid4().hex)
    ids = []
    for _ in range(2):
        image = client.create(name='quota-free')
        assert client.upload(image['id'], os.urandom(1000)).status_code == 204
        ids.append(image['id'])
    image = client.create(name='quota-after')
    assert client.upload(image['id'], os.urandom(1000)).status_code == 413
    assert client.delete('/v2/images/' + ids[0]).status_code == 204
    assert image_files(limited, ids[0]) == []
    assert client.upload(image['id'], os.urandom(1000)).status_code == 204


# -- clients that go away -------------------------------------------------------------
def go_away_during_upload(api, server, image_id, head: str, body: bytes = b''):
    """Send part of an upload, wait until the server is reading it, then hang up."""
    sock = raw_request(server, head, body)
    try:
        assert wait_for(lambda: status(api, image_id) == 'saving')
    finally:
        sock.close()
    assert wait_for(lambda: status(api, image_id) == 'queued'
                    and not image_files(server, image_id))
    assert_back_to_queued(api, server, image_id)


def test_client_disconnecting_mid_upload_leaves_image_queued(api, server):
    image = api.create(name='disconnect')
    go_away_during_upload(api, server, image['id'],
                          put_head(server, image['id'], Content_Length=1_000_000),
                          os.urandom(300_000))
    data = os.urandom(1000)
    assert api.upload(image['id'], data).status_code == 204
    assert api.get('/v2/images/%s/file' % image['id']).content == data


def test_client_disconnecting_mid_chunked_upload_leaves_image_queued(api, server):
    image = api.create(name='disconnect-chunked')
    body = b'%x\r\n%s\r\n' % (200_000, os.urandom(200_000)) + b'%x\r\n' % 100_000 + b'x' * 10
    go_away_during_upload(api, server, image['id'],
                          put_head(server, image['id'], Transfer_Encoding='chunked'), body)


def test_client_disconnecting_before_any_data(api, server):
    image = api.create(name='disconnect-early')
    go_away_during_upload(api, server, image['id'],
                          put_head(server, image['id'], Content_Length=5000))


def test_image_deleted_during_upload_is_410_and_leaves_no_data(api, server):
    image = api.create(name='deleted-while-uploading')
    data = os.urandom(200_000)
    sock = raw_request(server, put_head(server, image['id'], Content_Length=len(data)),
                       data[:100_000])
    try:
        assert wait_for(lambda: status(api, image['id']) == 'saving')
        assert api.delete('/v2/images/' + image['id']).status_code == 204
        sock.sendall(data[100_000:])
        head = read_response(sock)
    finally:
        sock.close()
    assert head.startswith(b'HTTP/1.1 410'), head
    assert api.get('/v2/images/' + image['id']).status_code == 404
    assert wait_for(lambda: not image_files(server, image['id']))


def test_declared_size_beyond_the_free_disk_is_413_before_the_data(api, server):
    """The file store reserves the declared size before writing: more than its file
    system has free (a real disk, not a mock) is refused before the data is read."""
    declared = shutil.disk_usage(server.datadir).free + (1 << 30)
    assert declared < 1 << 40, 'this check needs less than 1 TiB free (image_size_cap)'
    image = api.create(name='bigger-than-the-disk')
    sock = raw_request(server, put_head(server, image['id'], Content_Length=declared),
                       b'x' * 1000)
    try:
        head = read_response(sock)
    finally:
        sock.close()
    assert head.startswith(b'HTTP/1.1 413'), head
    assert_back_to_queued(api, server, image['id'])


def test_a_refused_upload_closes_its_connection_and_says_so(server):
    """A body refused before it was read cannot be skipped: the answer says
    Connection: close, so the client's next request takes a new connection instead of
    failing on one the server dropped (it did, 13 times in 20, before)."""
    api = Client(server.url)                  # one keep-alive connection for the loop
    body = os.urandom(1 << 20)                # more than gunicorn skips (64 KiB)
    for _ in range(10):
        image = api.create(name='refused')
        refused = api.upload(image['id'], body, **{'x-openstack-image-size': str(1 << 60)})
        assert refused.status_code == 413
        assert refused.headers['Connection'] == 'close'
        assert api.get('/v2/images/' + image['id']).json()['status'] == 'queued'


# -- downloads ------------------------------------------------------------------------
@pytest.fixture
def hundred(api):
    """An active image of 100 known bytes."""
    data = bytes(range(100))
    image = api.create(name='hundred')
    assert api.upload(image['id'], data).status_code == 204
    return image['id'], data


@pytest.mark.parametrize('header, first, last', [
    ('bytes=0-9', 0, 9), ('bytes=10-', 10, 99), ('bytes=-5', 95, 99),
    ('bytes=99-99', 99, 99), ('bytes=90-200', 90, 99), ('bytes=-100', 0, 99),
    ('bytes=-1000', 0, 99), ('bytes=0-', 0, 99), ('bytes=50-59', 50, 59),
])
def test_ranged_download_is_206(api, hundred, header, first, last):
    image_id, data = hundred
    resp = api.get('/v2/images/%s/file' % image_id, headers={'Range': header})
    assert resp.status_code == 206, resp.text
    assert resp.headers['Content-Range'] == 'bytes %d-%d/100' % (first, last)
    assert resp.content == data[first:last + 1]
    assert int(resp.headers['Content-Length']) == last - first + 1
    assert resp.headers['Content-Type'] == 'application/octet-stream'


@pytest.mark.parametrize('header', ['bytes=100-', 'bytes=100-200', 'bytes=1000-1001',
                                    'bytes=5-2', 'bytes=abc', 'bytes=', 'bytes=-',
                                    'items=0-5', 'garbage'])
def test_unsatisfiable_range_is_416(api, hundred, header):
    image_id, _ = hundred
    resp = api.get('/v2/images/%s/file' % image_id, headers={'Range': header})
    assert resp.status_code == 416, resp.text


def test_multiple_ranges_are_400(api, hundred):
    """Glance: "Requests with multiple ranges are not supported"."""
    image_id, _ = hundred
    resp = api.get('/v2/images/%s/file' % image_id, headers={'Range': 'bytes=0-1,5-6'})
    assert resp.status_code == 400, resp.text


def test_full_download(api, hundred):
    image_id, data = hundred
    resp = api.get('/v2/images/%s/file' % image_id)
    assert resp.status_code == 200
    assert resp.content == data and 'Content-Range' not in resp.headers
    assert resp.headers['Content-MD5'] == hashlib.md5(data).hexdigest()
    assert resp.headers['Content-Length'] == '100'


def test_download_of_queued_image_is_204(api):
    image = api.create(name='queued-download')
    resp = api.get('/v2/images/%s/file' % image['id'])
    assert resp.status_code == 204
    assert resp.content == b''


def test_download_when_the_data_is_gone_from_the_store_is_204(api, server):
    """Glance answers 204 when no location can be read (glance_store.NotFound)."""
    image = api.create(name='data-gone')
    assert api.upload(image['id'], b'soon gone').status_code == 204
    (server.datadir / image['id']).unlink()
    resp = api.get('/v2/images/%s/file' % image['id'])
    assert resp.status_code == 204, resp.text
    assert resp.content == b''
    assert api.delete('/v2/images/' + image['id']).status_code == 204


def test_zero_byte_image(api, server):
    image = api.create(name='empty')
    resp = api.upload(image['id'], b'')
    assert resp.status_code == 204, resp.text
    shown = api.get('/v2/images/' + image['id']).json()
    assert shown['status'] == 'active' and shown['size'] == 0
    assert shown['checksum'] == hashlib.md5(b'').hexdigest()
    assert shown['os_hash_value'] == hashlib.sha512(b'').hexdigest()
    resp = api.get('/v2/images/%s/file' % image['id'])
    assert resp.status_code == 200 and resp.content == b''
    resp = api.get('/v2/images/%s/file' % image['id'], headers={'Range': 'bytes=0-'})
    assert resp.status_code == 416


def test_deactivated_image_download(api, as_project):
    project = 'deact-' + uuid.uuid4().hex
    owner = as_project(project)
    image = owner.create(name='deactivated')
    assert owner.upload(image['id'], b'secret').status_code == 204
    assert owner.post('/v2/images/%s/actions/deactivate' % image['id']).status_code == 204
    assert owner.get('/v2/images/' + image['id']).json()['status'] == 'deactivated'

    resp = owner.get('/v2/images/%s/file' % image['id'])
    assert resp.status_code == 403, resp.text
    resp = api.get('/v2/images/%s/file' % image['id'])
    assert resp.status_code == 200 and resp.content == b'secret'
    admin = as_project(project, roles='admin,member,reader')
    assert admin.get('/v2/images/%s/file' % image['id']).status_code == 200

    assert owner.post('/v2/images/%s/actions/reactivate' % image['id']).status_code == 204
    resp = owner.get('/v2/images/%s/file' % image['id'])
    assert resp.status_code == 200 and resp.content == b'secret'


# -- concurrency ----------------------------------------------------------------------
def test_concurrent_uploads_to_different_images(api, server):
    count = 8
    images = [api.create(name='concurrent-%d' % i)['id'] for i in range(count)]
    payloads = [os.urandom(512 * 1024 + i) for i in range(count)]
    results: dict[int, int] = {}

    def upload(i):
        client = Client(server.url)
        results[i] = client.upload(images[i], payloads[i]).status_code

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == dict.fromkeys(range(count), 204)
    for image_id, data in zip(images, payloads, strict=True):
        shown = api.get('/v2/images/' + image_id).json()
        assert shown['status'] == 'active'
        assert shown['size'] == len(data)
        assert shown['checksum'] == hashlib.md5(data).hexdigest()
        assert shown['os_hash_value'] == hashlib.sha512(data).hexdigest()
        assert api.get('/v2/images/%s/file' % image_id).content == data


def test_racing_uploads_to_one_image_leave_one_winner(api, server):
    image_id = api.create(name='race')['id']
    payloads = [os.urandom(256 * 1024 + i) for i in range(4)]
    results: dict[int, int] = {}

    def upload(i):
        results[i] = Client(server.url).upload(image_id, payloads[i]).status_code

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(len(payloads))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for i, code in results.items() if code == 204]
    assert len(winners) == 1, results
    assert sorted(code for code in results.values() if code != 204) == [409] * 3
    data = payloads[winners[0]]
    shown = api.get('/v2/images/' + image_id).json()
    assert shown['status'] == 'active'
    assert shown['checksum'] == hashlib.md5(data).hexdigest()
    assert api.get('/v2/images/%s/file' % image_id).content == data
    assert image_files(server, image_id) == [image_id]
