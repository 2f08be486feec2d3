"""The rbd and s3 stores against a real Ceph (tests/infra/ceph.sh: RBD pool ``images``
as client.glance, S3 through radosgw): the image flow, what each back end holds
afterwards, failed uploads that leave nothing behind, clones that make a delete a 409,
and a back end that is down answering 503 while the service keeps serving.

``make services`` starts the cluster and links Ceph's bindings into the venv; a
cluster that cannot be started fails these tests."""
from __future__ import annotations

import hashlib
import os
import socket

import boto3
import pytest

from tests.infra import ceph as ceph_cluster
from tests.service.conftest import Client, fresh_database
from tests.service.http_checks import wait_for
from tests.service.server import GlintServer, RegistryServer

MiB = 1024 * 1024
DATA = os.urandom(24 * MiB + 12345)      # several RBD objects, several S3 parts


@pytest.fixture(scope='module')
def ceph():
    """The cluster's GLINT_TEST_* settings; started if it is not running."""
    ceph_cluster.ensure_running()
    return ceph_cluster.settings()


def rbd_options(ceph: dict, **extra) -> dict:
    return {'glance_store': {
        'stores': 'rbd,http', 'default_store': 'rbd',
        'rbd_store_ceph_conf': ceph['GLINT_TEST_CEPH_CONF'],
        'rbd_store_user': ceph['GLINT_TEST_RBD_USER'],
        'rbd_store_pool': ceph['GLINT_TEST_RBD_POOL'], **extra},
        'DEFAULT': {'show_image_direct_url': 'true', 'show_multiple_locations': 'true'}}


def s3_options(ceph: dict, bucket: str, **extra) -> dict:
    return {'glance_store': {
        'stores': 's3,http', 'default_store': 's3',
        's3_store_host': ceph['GLINT_TEST_S3_URL'],
        's3_store_access_key': ceph['GLINT_TEST_S3_ACCESS_KEY'],
        's3_store_secret_key': ceph['GLINT_TEST_S3_SECRET_KEY'],
        's3_store_bucket': bucket, 's3_store_create_bucket_on_put': 'true',
        # 5 MiB parts from 8 MiB on: DATA is a multipart upload of 5 parts
        's3_store_large_object_size': 8, 's3_store_large_object_chunk_size': 5, **extra},
        'DEFAULT': {'show_image_direct_url': 'true'}}


@pytest.fixture(scope='module')
def rbd_server(ceph):
    with GlintServer(overrides=rbd_options(ceph)) as server:
        yield server


@pytest.fixture(scope='module')
def s3_server(ceph):
    with GlintServer(overrides=s3_options(ceph, 'glint-test-images')) as server:
        yield server


@pytest.fixture(scope='module')
def pool(ceph):
    """The images pool as client.glance, through Ceph's bindings."""
    import rados
    cluster = rados.Rados(conffile=ceph['GLINT_TEST_CEPH_CONF'],
                          rados_id=ceph['GLINT_TEST_RBD_USER'])
    cluster.connect(timeout=30)
    ioctx = cluster.open_ioctx(ceph['GLINT_TEST_RBD_POOL'])
    yield ioctx
    ioctx.close()
    cluster.shutdown()


@pytest.fixture(scope='module')
def s3(ceph):
    return boto3.client('s3', endpoint_url=ceph['GLINT_TEST_S3_URL'],
                        aws_access_key_id=ceph['GLINT_TEST_S3_ACCESS_KEY'],
                        aws_secret_access_key=ceph['GLINT_TEST_S3_SECRET_KEY'])


def rbd_names(pool) -> set[str]:
    import rbd
    return set(rbd.RBD().list(pool))


def upload_and_check(api: Client, data: bytes = DATA) -> dict:
    image = api.create(name='store-flow')
    done = api.upload(image['id'], data)
    assert done.status_code == 204, done.text
    shown = api.get('/v2/images/' + image['id']).json()
    assert shown['status'] == 'active'
    assert shown['size'] == len(data)
    assert shown['os_hash_value'] == hashlib.sha512(data).hexdigest()
    got = api.get('/v2/images/%s/file' % image['id'])
    assert got.status_code == 200
    assert hashlib.sha256(got.content).digest() == hashlib.sha256(data).digest()
    first, last = len(data) // 5 - 3, len(data) * 3 // 5 + 7     # across chunks
    ranged = api.get('/v2/images/%s/file' % image['id'],
                     headers={'Range': 'bytes=%d-%d' % (first, last)})
    assert ranged.status_code == 206
    assert ranged.content == data[first:last + 1]
    return shown


def interrupted_upload(server: GlintServer, image_id: str, sent: int) -> None:
    """A client that declares DATA's size, sends ``sent`` bytes and goes away once the
    upload has begun (so the image's return to queued is the upload's failure)."""
    with socket.create_connection(('127.0.0.1', server.port)) as sock:
        sock.sendall(('PUT /v2/images/%s/file HTTP/1.1\r\nHost: x\r\n'
                      'Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n'
                      % (image_id, len(DATA))).encode() + DATA[:sent])
        wait_for_status(Client(server.url), image_id, 'saving')


def wait_for_status(api: Client, image_id: str, status: str) -> None:
    assert wait_for(lambda: api.get('/v2/images/' + image_id).json()['status'] == status,
                    timeout=30), api.get('/v2/images/' + image_id).json()


# -- rbd -------------------------------------------------------------------------------

def test_rbd_image_flow_snapshot_and_location(rbd_server, ceph, pool):
    import rbd
    api = Client(rbd_server.url)
    image = upload_and_check(api)
    expected = 'rbd://%s/%s/%s/snap' % (ceph['GLINT_TEST_CEPH_FSID'],
                                       ceph['GLINT_TEST_RBD_POOL'], image['id'])
    assert image['direct_url'] == expected
    assert [loc['url'] for loc in image['locations']] == [expected]
    with rbd.Image(pool, image['id'], read_only=True) as stored:
        assert stored.size() == len(DATA)
        snaps = [s['name'] for s in stored.list_snaps()]
        assert snaps == ['snap'] and stored.is_protected_snap('snap')
    assert api.delete('/v2/images/' + image['id']).status_code == 204
    assert image['id'] not in rbd_names(pool)


def test_rbd_unknown_size_grows_and_fits(rbd_server, pool):
    """A chunked upload (no Content-Length, as the glance CLI sends) of unknown size."""
    import rbd
    api = Client(rbd_server.url)
    image = api.create(name='chunked')
    done = api.upload(image['id'], iter([DATA[i:i + MiB] for i in range(0, len(DATA), MiB)]))
    assert done.status_code == 204, done.text
    with rbd.Image(pool, image['id'], read_only=True) as stored:
        assert stored.size() == len(DATA)
    assert api.delete('/v2/images/' + image['id']).status_code == 204


def test_rbd_delete_of_an_image_with_clones_is_409(rbd_server, pool):
    import rbd
    api = Client(rbd_server.url)
    image = upload_and_check(api, DATA[:3 * MiB])
    clone = 'clone-of-' + image['id']
    rbd.RBD().clone(pool, image['id'], 'snap', pool, clone,
                    features=rbd.RBD_FEATURE_LAYERING)
    try:
        refused = api.delete('/v2/images/' + image['id'])
        assert refused.status_code == 409, refused.text
        assert api.get('/v2/images/' + image['id']).json()['status'] == 'active'
        assert api.get('/v2/images/%s/file' % image['id']).content == DATA[:3 * MiB]
    finally:
        rbd.RBD().remove(pool, clone)
    assert api.delete('/v2/images/' + image['id']).status_code == 204
    assert image['id'] not in rbd_names(pool)


def test_rbd_interrupted_upload_leaves_no_rbd_image(rbd_server, pool):
    api = Client(rbd_server.url)
    image = api.create(name='interrupted')
    interrupted_upload(rbd_server, image['id'], 3 * MiB)
    wait_for_status(api, image['id'], 'queued')
    assert image['id'] not in rbd_names(pool)
    api.delete('/v2/images/' + image['id'])


def assert_upload_to_a_down_store_is_503(options: dict) -> None:
    """The upload answers 503, the image stays queued, the service goes on."""
    with GlintServer(overrides=options) as server:
        api = Client(server.url)
        image = api.create(name='nowhere')
        refused = api.upload(image['id'], DATA[:MiB])
        assert refused.status_code == 503, refused.text
        assert api.get('/v2/images/' + image['id']).json()['status'] == 'queued'
        assert api.get('/v2/images').status_code == 200


@pytest.mark.server_errors('the cluster is down on purpose')
def test_rbd_down_answers_503_and_the_service_goes_on(ceph, tmp_path):
    conf = tmp_path / 'down.conf'
    conf.write_text('[global]\nmon_host = 127.0.0.1:1\nauth_client_required = none\n')
    assert_upload_to_a_down_store_is_503(
        rbd_options(ceph, rbd_store_ceph_conf=conf, rados_connect_timeout=3))


# -- s3 --------------------------------------------------------------------------------

def test_s3_image_flow_single_put_and_multipart(s3_server, s3, ceph):
    api = Client(s3_server.url)
    bucket = 'glint-test-images'
    for data in (DATA[:2 * MiB], DATA):          # below and above the threshold
        image = upload_and_check(api, data)
        host = ceph['GLINT_TEST_S3_URL'].split('://')[1]
        assert image['direct_url'] == 's3://%s/%s/%s' % (host, bucket, image['id'])
        head = s3.head_object(Bucket=bucket, Key=image['id'])
        assert head['ContentLength'] == len(data)
        assert ('-' in head['ETag']) == (len(data) > 8 * MiB)      # multipart ETag
        assert api.delete('/v2/images/' + image['id']).status_code == 204
        keys = [o['Key'] for o in s3.list_objects_v2(Bucket=bucket).get('Contents', [])]
        assert image['id'] not in keys


def test_s3_interrupted_multipart_upload_is_aborted(s3_server, s3):
    api = Client(s3_server.url)
    image = api.create(name='interrupted')
    interrupted_upload(s3_server, image['id'], 17 * MiB)        # 3 parts sent
    wait_for_status(api, image['id'], 'queued')
    bucket = 'glint-test-images'
    assert 'Contents' not in s3.list_objects_v2(Bucket=bucket, Prefix=image['id'])
    assert not s3.list_multipart_uploads(Bucket=bucket).get('Uploads')
    api.delete('/v2/images/' + image['id'])


@pytest.mark.server_errors('the S3 endpoint is down on purpose')
def test_s3_down_answers_503(ceph):
    assert_upload_to_a_down_store_is_503(
        s3_options(ceph, 'glint-test-down', s3_store_host='http://127.0.0.1:1'))


# -- multi-store -------------------------------------------------------------------------

BACKENDS = 'fast:file,ceph:rbd,objects:s3,web:http,down:rbd'


@pytest.fixture(scope='module', params=[('direct', 'sqlite'), ('registry', 'postgresql')],
                ids='-'.join)
def multi(request, ceph, tmp_path_factory):
    """glance-api with five backends: file, rbd (default), s3, http (read-only) and an
    rbd whose cluster is down; ceph is tried before fast, down before everything. On
    SQLite directly, and through glance-registry on PostgreSQL (locations cross the
    registry's wire)."""
    mode, kind = request.param
    down = tmp_path_factory.mktemp('down') / 'ceph.conf'
    down.write_text('[global]\nmon_host = 127.0.0.1:1\nauth_client_required = none\n')
    rbd = rbd_options(ceph)['glance_store']
    s3_section = s3_options(ceph, 'glint-test-multi')['glance_store']
    overrides = {
        'DEFAULT': {'enabled_backends': BACKENDS, 'show_multiple_locations': 'true'},
        'glance_store': {'default_backend': 'ceph'},
        'fast': {'filesystem_store_datadir': tmp_path_factory.mktemp('fast'),
                 'store_description': 'Local disk', 'weight': 10},
        'ceph': {k: v for k, v in rbd.items() if k.startswith('rbd_')} | {
            'store_description': 'Ceph RBD', 'weight': 20},
        'objects': {k: v for k, v in s3_section.items() if k.startswith('s3_')},
        'web': {},
        'down': {'rbd_store_ceph_conf': down, 'rados_connect_timeout': 3, 'weight': 30},
    }
    url, drop = fresh_database(kind)
    registry = RegistryServer(url) if mode == 'registry' else None
    with GlintServer(url, overrides=overrides, registry=registry) as server:
        server.fast_dir = overrides['fast']['filesystem_store_datadir']
        yield server
    drop()


def test_info_stores_lists_the_backends(multi):
    api = Client(multi.url)
    stores = api.get('/v2/info/stores').json()['stores']
    assert stores == [
        {'id': 'fast', 'description': 'Local disk'},
        {'id': 'ceph', 'description': 'Ceph RBD', 'default': 'true'},
        {'id': 'objects'}, {'id': 'web', 'read-only': 'true'}, {'id': 'down'}]
    detail = {s['id']: s for s in api.get('/v2/info/stores/detail').json()['stores']}
    assert detail['ceph']['type'] == 'rbd' and detail['ceph']['weight'] == 20
    assert detail['ceph']['properties']['pool'] == 'images'
    assert detail['fast']['properties']['data_dir'] == str(multi.fast_dir)
    assert detail['objects']['properties']['s3_store_large_object_chunk_size'] == 5
    reader = Client(multi.url, project='alpha', roles='reader,member')
    assert reader.get('/v2/info/stores').status_code == 200
    assert reader.get('/v2/info/stores/detail').status_code == 403
    versions = [v['id'] for v in api.get('/versions').json()['versions']]
    assert versions[0] == 'v2.8'


def test_single_store_has_no_stores_api(rbd_server):
    api = Client(rbd_server.url)
    assert api.get('/v2/info/stores').status_code == 404
    assert [v['id'] for v in api.get('/versions').json()['versions']][0] == 'v2.7'
    image = upload_and_check(api, DATA[:MiB])
    assert 'stores' not in api.get('/v2/images/' + image['id']).json()
    assert api.delete('/v2/stores/rbd/' + image['id']).status_code == 404
    api.delete('/v2/images/' + image['id'])


@pytest.mark.parametrize('header, backend', [
    (None, 'ceph'), ('fast', 'fast'), ('objects', 'objects'), ('ceph', 'ceph')])
def test_upload_goes_to_the_named_backend(multi, header, backend):
    api = Client(multi.url)
    image = api.create(name='placed')
    headers = {'X-Image-Meta-Store': header} if header else {}
    assert api.upload(image['id'], DATA[:2 * MiB], **headers).status_code == 204
    shown = api.get('/v2/images/' + image['id']).json()
    assert shown['stores'] == backend
    assert [loc['metadata'] for loc in shown['locations']] == [{'store': backend}]
    assert api.get('/v2/images/%s/file' % image['id']).content == DATA[:2 * MiB]
    assert api.delete('/v2/images/' + image['id']).status_code == 204


@pytest.mark.parametrize('header, why', [('nowhere', 'Unknown store'),
                                         ('web', 'read-only')])
def test_upload_to_a_backend_that_cannot_take_it_is_400(multi, header, why):
    api = Client(multi.url)
    image = api.create(name='misplaced')
    refused = api.upload(image['id'], DATA[:MiB], **{'X-Image-Meta-Store': header})
    assert refused.status_code == 400 and why in refused.text
    assert api.get('/v2/images/' + image['id']).json()['status'] == 'queued'
    api.delete('/v2/images/' + image['id'])


@pytest.mark.server_errors('one backend is down on purpose')
def test_a_down_backend_is_503_while_the_others_serve(multi):
    api = Client(multi.url)
    kept = upload_and_check(api, DATA[:MiB])                       # on ceph
    image = api.create(name='to-the-down-one')
    refused = api.upload(image['id'], DATA[:MiB], **{'X-Image-Meta-Store': 'down'})
    assert refused.status_code == 503
    assert api.get('/v2/images/' + image['id']).json()['status'] == 'queued'
    assert api.get('/v2/images/%s/file' % kept['id']).content == DATA[:MiB]
    for one in (image, kept):
        api.delete('/v2/images/' + one['id'])


def _merge_locations(server, into: str, source: str) -> None:
    """Give image ``into`` the location of image ``source`` as well (what copy-image
    will do), straight in the server's database."""
    import sqlalchemy as sa
    engine = sa.create_engine(server.database_url)
    with engine.begin() as conn:
        conn.execute(sa.text('UPDATE image_locations SET image_id = :into '
                             'WHERE image_id = :source'), {'into': into, 'source': source})
    engine.dispose()


def test_download_tries_heavier_backends_first_and_delete_from_store(multi, pool, tmp_path):
    api = Client(multi.url)
    image = upload_and_check(api, DATA[:3 * MiB])                  # ceph (weight 20)
    copy = api.create(name='copy')
    assert api.upload(copy['id'], DATA[:3 * MiB], **{'X-Image-Meta-Store': 'fast'}
                      ).status_code == 204
    _merge_locations(multi, image['id'], copy['id'])
    shown = api.get('/v2/images/' + image['id']).json()
    assert sorted(shown['stores'].split(',')) == ['ceph', 'fast']

    # the only store of `copy` is gone to `image`: refused, and a store it is not in
    assert api.delete('/v2/stores/fast/' + image['id'] + 'x').status_code == 404
    assert api.delete('/v2/stores/nowhere/' + image['id']).status_code == 409
    assert api.delete('/v2/stores/objects/' + image['id']).status_code == 404
    member = Client(multi.url, project='alpha', roles='reader,member')
    assert member.delete('/v2/stores/ceph/' + image['id']).status_code == 403  # admin's

    # ceph is heavier than fast: with the RBD image's data changed underneath, the
    # download shows which backend answered
    import rbd
    with rbd.Image(pool, image['id'], snapshot=None) as stored:
        stored.unprotect_snap('snap')
        stored.remove_snap('snap')
        stored.write(b'C' * 16, 0)
        stored.create_snap('snap')
        stored.protect_snap('snap')
    assert api.get('/v2/images/%s/file' % image['id']).content[:16] == b'C' * 16

    assert api.delete('/v2/stores/ceph/' + image['id']).status_code == 204
    assert image['id'] not in rbd_names(pool)
    shown = api.get('/v2/images/' + image['id']).json()
    assert shown['stores'] == 'fast' and shown['status'] == 'active'
    assert api.get('/v2/images/%s/file' % image['id']).content == DATA[:3 * MiB]
    only = api.delete('/v2/stores/fast/' + image['id'])
    assert only.status_code == 403 and 'only store' in only.text
    for one in (image, copy):
        assert api.delete('/v2/images/' + one['id']).status_code == 204


@pytest.mark.server_errors('the heaviest backend is down on purpose')
def test_a_download_passes_over_a_backend_that_is_down(multi, ceph):
    """Locations on ``down`` (weight 30) and ``fast`` (10): the download waits out the
    down cluster's timeout, then is served from the file backend."""
    import sqlalchemy as sa
    api = Client(multi.url)
    image = api.create(name='two-homes')
    assert api.upload(image['id'], DATA[:MiB], **{'X-Image-Meta-Store': 'fast'}
                      ).status_code == 204
    engine = sa.create_engine(multi.database_url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO image_locations (image_id, value, meta_data, status, created_at) "
            "VALUES (:id, :url, '{\"store\": \"down\"}', 'active', CURRENT_TIMESTAMP)"),
            {'id': image['id'], 'url': 'rbd://%s/images/%s/snap' % (
                ceph['GLINT_TEST_CEPH_FSID'], image['id'])})
    engine.dispose()
    assert sorted(api.get('/v2/images/' + image['id']).json()['stores'].split(',')) == \
        ['down', 'fast']
    assert api.get('/v2/images/%s/file' % image['id']).content == DATA[:MiB]
    assert 'trying the next' in multi.log
    # Deleting it now would strand its data on the down cluster: 503, the image stays.
    assert api.delete('/v2/images/' + image['id']).status_code == 503
    assert api.get('/v2/images/' + image['id']).json()['status'] == 'active'
