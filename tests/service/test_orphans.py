"""``glance-manage image orphans [--delete]`` (issue 15, item 3): data in the writable
backends that no image owns, listed (dry run) and removed, never data an image owns.

A multi-store glance-api with a file, an rbd and an s3 backend on the real Ceph
(tests/infra/ceph.sh). Its RBD pool and S3 bucket are the test's own (a pool made with
client.admin): the command owns everything in them, so they must not be shared with
the other tests' servers. Directly on SQLite, and through glance-registry on
PostgreSQL (the command reads the database through the registry then).
"""
from __future__ import annotations

import os
import uuid

import pytest

from tests.service.conftest import Client, fresh_database
from tests.service.http_checks import wait_for
from tests.service.server import GlintServer, RegistryServer
from tests.service.test_image_data import put_head, raw_request, read_response
from tests.service.test_leases import status
from tests.service.test_stores import ceph, s3, s3_options  # noqa: F401 (fixtures)

POOL = 'glint-orphans'
BUCKET = 'glint-test-orphans'
DATA = os.urandom(100_000)


def remove_rbd_images(ioctx) -> None:
    import rbd
    for name in rbd.RBD().list(ioctx):
        with rbd.Image(ioctx, name) as image:
            for snap in list(image.list_snaps()):
                if image.is_protected_snap(snap['name']):
                    image.unprotect_snap(snap['name'])
                image.remove_snap(snap['name'])
        rbd.RBD().remove(ioctx, name)


@pytest.fixture(scope='module')
def pool(ceph):  # noqa: F811
    """A pool of this module's own, as client.admin."""
    import rados
    import rbd
    cluster = rados.Rados(conffile=ceph['GLINT_TEST_CEPH_CONF'], rados_id='admin')
    cluster.connect(timeout=30)
    if not cluster.pool_exists(POOL):
        cluster.create_pool(POOL)
    ioctx = cluster.open_ioctx(POOL)
    rbd.RBD().pool_init(ioctx, True)
    remove_rbd_images(ioctx)            # an interrupted earlier run's
    yield ioctx
    remove_rbd_images(ioctx)
    ioctx.close()
    cluster.delete_pool(POOL)
    cluster.shutdown()


def empty_bucket(s3) -> None:  # noqa: F811
    for page in s3.get_paginator('list_objects_v2').paginate(Bucket=BUCKET):
        for obj in page.get('Contents', []):
            s3.delete_object(Bucket=BUCKET, Key=obj['Key'])
    for upload in s3.list_multipart_uploads(Bucket=BUCKET).get('Uploads', []):
        s3.abort_multipart_upload(Bucket=BUCKET, Key=upload['Key'],
                                  UploadId=upload['UploadId'])


@pytest.fixture(scope='module')
def bucket(s3):  # noqa: F811
    try:
        s3.create_bucket(Bucket=BUCKET)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    yield BUCKET
    empty_bucket(s3)
    s3.delete_bucket(Bucket=BUCKET)


@pytest.fixture(scope='module', params=[('direct', 'sqlite'), ('registry', 'postgresql')],
                ids='-'.join)
def server(request, ceph, pool, s3, bucket, tmp_path_factory):  # noqa: F811
    """Each server owns the pool and bucket: what an earlier one left is emptied."""
    mode, kind = request.param
    remove_rbd_images(pool)
    empty_bucket(s3)
    s3_section = s3_options(ceph, bucket)['glance_store']
    overrides = {
        'DEFAULT': {'enabled_backends': 'fast:file,ceph:rbd,objects:s3,web:http'},
        'glance_store': {'default_backend': 'ceph'},
        'fast': {'filesystem_store_datadir': tmp_path_factory.mktemp('fast')},
        'ceph': {'rbd_store_ceph_conf': ceph['GLINT_TEST_CEPH_CONF'],
                 'rbd_store_user': 'admin', 'rbd_store_pool': POOL},
        'objects': {k: v for k, v in s3_section.items() if k.startswith('s3_')},
        'web': {},
    }
    url, drop = fresh_database(kind)
    registry = RegistryServer(url) if mode == 'registry' else None
    with GlintServer(url, overrides=overrides, registry=registry) as srv:
        srv.fast_dir = overrides['fast']['filesystem_store_datadir']
        yield srv
    drop()


def orphans(server, *args: str) -> str:
    return server.manage('image', 'orphans', *args).stdout


def held(server, pool, s3) -> set[str]:  # noqa: F811
    """The names each backend holds, as backend/name."""
    import rbd
    names = {'fast/' + p.name for p in server.fast_dir.iterdir()}
    names |= {'ceph/' + n for n in rbd.RBD().list(pool)}
    found = s3.list_objects_v2(Bucket=BUCKET).get('Contents', [])
    names |= {'objects/' + o['Key'] for o in found}
    uploads = s3.list_multipart_uploads(Bucket=BUCKET).get('Uploads', [])
    return names | {'objects/%s (multipart)' % u['Key'] for u in uploads}


def plant(server, pool, s3) -> set[str]:  # noqa: F811
    """Data no image owns in each backend: a deleted image's, a stray file, an RBD
    image and an S3 object and multipart upload named like image ids."""
    import rbd
    api = Client(server.url)
    gone = api.create(name='deleted-later')
    assert api.upload(gone['id'], DATA, **{'X-Image-Meta-Store': 'fast'}).status_code == 204
    kept = server.fast_dir / (gone['id'] + '.kept')
    os.link(server.fast_dir / gone['id'], kept)   # the delete removes only the original
    assert api.delete('/v2/images/' + gone['id']).status_code == 204
    stray = str(uuid.uuid4())
    (server.fast_dir / stray).write_bytes(b'stray')
    rbd_orphan, s3_orphan, multipart = (str(uuid.uuid4()) for _ in range(3))
    rbd.RBD().create(pool, rbd_orphan, 4096)
    s3.put_object(Bucket=BUCKET, Key=s3_orphan, Body=b'orphan')
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=multipart)['UploadId']
    s3.upload_part(Bucket=BUCKET, Key=multipart, UploadId=upload, PartNumber=1,
                   Body=b'x' * 1000)
    return {'fast/' + kept.name, 'fast/' + stray, 'ceph/' + rbd_orphan,
            'objects/' + s3_orphan, 'objects/%s (multipart)' % multipart}


def test_orphans_are_listed_then_removed_and_owned_data_stays(server, pool, s3):  # noqa: F811
    api = Client(server.url)
    owned = {}
    for backend in ('fast', 'ceph', 'objects'):
        image = api.create(name='owned-' + backend)
        assert api.upload(image['id'], DATA,
                          **{'X-Image-Meta-Store': backend}).status_code == 204
        owned[backend] = image['id']
    # an upload under way: its partial data belongs to it
    uploading = api.create(name='uploading')
    sock = raw_request(server, put_head(server, uploading['id'], Content_Length=len(DATA),
                                        X_Image_Meta_Store='fast'), DATA[:50_000])
    try:
        assert wait_for(lambda: status(api, uploading['id']) == 'saving'
                        and (server.fast_dir / uploading['id']).exists())
        planted = plant(server, pool, s3)
        before = held(server, pool, s3)
        assert planted <= before

        listed = orphans(server)
        for entry in planted:
            assert entry.split('/')[1].split(' ')[0] in listed, (entry, listed)
        for image_id in [*owned.values(), uploading['id']]:
            assert image_id not in listed, listed
        assert '5 piece(s) of data no image owns (dry run' in listed, listed
        assert held(server, pool, s3) == before        # a dry run removes nothing

        removed = orphans(server, '--delete')
        assert removed.count(': removed') == 5, removed
        assert held(server, pool, s3) == before - planted
        assert '0 piece(s)' in orphans(server)

        sock.sendall(DATA[50_000:])
        assert read_response(sock).startswith(b'HTTP/1.1 204')
    finally:
        sock.close()
    for image_id in [*owned.values(), uploading['id']]:
        assert api.get('/v2/images/%s/file' % image_id).content == DATA
