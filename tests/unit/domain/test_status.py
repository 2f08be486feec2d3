"""The status machine: queued -> saving -> active <-> deactivated, deleted; a failed
upload goes back to queued (never killed) with nothing left in the store."""
from __future__ import annotations

import hashlib
import io
import pathlib

import pytest

from glint.common import exception
from glint.domain.images import Change
from tests.unit.domain.conftest import ADMIN, OTHER, OWNER


def stored_files(domain) -> list[pathlib.Path]:
    return sorted(pathlib.Path(domain.conf.glance_store.filesystem_store_datadir).iterdir())


def test_upload_takes_a_queued_image_to_active(domain):
    image = domain.image()
    assert image.status == 'queued'
    domain.data.upload(OWNER, image.id, io.BytesIO(b'hello'), 5)
    image = domain.images.get(OWNER, image.id)
    assert (image.status, image.size) == ('active', 5)
    assert image.checksum == hashlib.md5(b'hello').hexdigest()
    assert (image.os_hash_algo, image.os_hash_value) == (
        'sha512', hashlib.sha512(b'hello').hexdigest())
    assert len(image.locations) == 1 and len(stored_files(domain)) == 1
    assert domain.notifier.events()[-3:] == ['image.upload', 'image.activate',
                                             'image.update']


def test_only_a_queued_image_takes_data(domain):
    image = domain.image(data=b'x')
    with pytest.raises(exception.Conflict, match='from active to saving'):
        domain.data.upload(OWNER, image.id, io.BytesIO(b'y'), 1)


def test_data_needs_both_formats(domain):
    image = domain.image(container_format=None)
    with pytest.raises(exception.BadRequest, match='must be set prior'):
        domain.data.upload(OWNER, image.id, io.BytesIO(b'y'), 1)
    assert domain.images.get(OWNER, image.id).status == 'queued'


def test_a_failed_upload_goes_back_to_queued_and_leaves_no_data(domain):
    image = domain.image()
    with pytest.raises(exception.BadRequest, match='does not match'):
        domain.data.upload(OWNER, image.id, io.BytesIO(b'short'), 99)
    assert domain.images.get(OWNER, image.id).status == 'queued'
    assert stored_files(domain) == []
    assert ('error', 'image.upload') in [(p, e) for p, e, _ in domain.notifier.sent]
    domain.data.upload(OWNER, image.id, io.BytesIO(b'again'), 5)     # and can retry
    assert domain.images.get(OWNER, image.id).status == 'active'


def test_an_image_deleted_during_its_upload_is_gone_with_its_data(domain):
    image = domain.image()

    class DeletedMidway(io.BytesIO):
        def readinto(self, buffer):
            if self.tell() == 0:
                domain.db.image_delete(image.id)
            return super().readinto(buffer)
    with pytest.raises(exception.Gone):
        domain.data.upload(OWNER, image.id, DeletedMidway(b'data'), None)
    assert stored_files(domain) == []


def test_deactivate_and_reactivate(domain):
    image = domain.image(data=b'x')
    domain.images.set_status(OWNER, image.id, 'deactivate')
    assert domain.images.get(OWNER, image.id).status == 'deactivated'
    with pytest.raises(exception.Forbidden, match='deactivated'):
        domain.data.download(OWNER, image.id)
    assert domain.data.download(ADMIN, image.id)[1] is not None     # admins still may
    domain.images.set_status(OWNER, image.id, 'deactivate')         # again: no change
    domain.images.set_status(OWNER, image.id, 'reactivate')
    assert domain.images.get(OWNER, image.id).status == 'active'
    assert domain.data.download(OWNER, image.id)[1]().data.read() == b'x'


@pytest.mark.parametrize('action', ['deactivate', 'reactivate'])
def test_only_an_image_with_data_is_deactivated_or_reactivated(domain, action):
    image = domain.image()
    with pytest.raises(exception.Forbidden, match="status 'queued'"):
        domain.images.set_status(OWNER, image.id, action)


def test_an_image_without_data_downloads_nothing(domain):
    image = domain.image()
    assert domain.data.download(OWNER, image.id)[1] is None


def test_delete_removes_the_image_and_its_data(domain):
    image = domain.image(data=b'x')
    domain.images.delete(OWNER, image.id)
    with pytest.raises(exception.NotFound):
        domain.images.get(OWNER, image.id)
    assert stored_files(domain) == []
    assert domain.notifier.events()[-1] == 'image.delete'


def test_a_protected_image_is_not_deleted(domain):
    image = domain.image(protected=True)
    with pytest.raises(exception.Forbidden, match='protected'):
        domain.images.delete(OWNER, image.id)
    domain.images.update(OWNER, image.id, [Change('replace', 'protected', False)])
    domain.images.delete(OWNER, image.id)


def test_formats_change_only_while_queued(domain):
    image = domain.image()
    domain.images.update(OWNER, image.id, [Change('replace', 'disk_format', 'qcow2')])
    domain.data.upload(OWNER, image.id, io.BytesIO(b'x'), 1)
    with pytest.raises(exception.Forbidden, match='queued image'):
        domain.images.update(OWNER, image.id, [Change('replace', 'disk_format', 'raw')])
    # the same value is no change
    domain.images.update(OWNER, image.id, [Change('replace', 'disk_format', 'qcow2')])


def test_another_project_cannot_delete_or_upload(domain):
    image = domain.image(visibility='community')
    with pytest.raises(exception.Forbidden):
        domain.images.delete(OTHER, image.id)
    with pytest.raises(exception.Forbidden):
        domain.data.upload(OTHER, image.id, io.BytesIO(b'x'), 1)
