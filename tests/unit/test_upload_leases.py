"""The upload lease in the database layer (glint.db.api), on SQLite and on the domain
tests' in-memory double alike: who may end an upload, when it counts as gone, and the
reaper's takeover."""
import datetime as dt

import pytest

from glint.common import exception
from glint.db.sqlalchemy import api as sql_api
from tests.unit.test_db_api import _image, any_db, db  # noqa: F401 (fixtures)


def expire(database, image_id: str) -> None:
    """Make the image's lease run out now, as time passing would."""
    past = dt.datetime(2000, 1, 1)
    if isinstance(database, sql_api.Database):
        with database.engine.begin() as conn:
            conn.execute(sql_api.images.update().where(sql_api.images.c.id == image_id)
                         .values(upload_expires_at=past))
    else:
        database.leases[image_id] = (database.leases[image_id][0], past)


def test_only_the_lease_holder_ends_the_upload(any_db):  # noqa: F811
    image = _image(any_db)
    assert any_db.upload_start(image['id'], 'mine', 60)['status'] == 'saving'
    with pytest.raises(exception.Conflict):
        any_db.upload_start(image['id'], 'other', 60)
    with pytest.raises(exception.Conflict):
        any_db.image_update(image['id'], {'status': 'active'}, lease='other')
    assert any_db.upload_renew(image['id'], 'mine', 60)
    assert not any_db.upload_renew(image['id'], 'other', 60)
    assert any_db.image_update(image['id'], {'status': 'active'},
                               lease='mine')['status'] == 'active'
    assert not any_db.upload_renew(image['id'], 'mine', 60)    # ended with the upload


def test_an_expired_lease_is_listed_and_taken_over_once(any_db):  # noqa: F811
    alive, gone = _image(any_db), _image(any_db)
    any_db.upload_start(alive['id'], 'a', 60)
    any_db.upload_start(gone['id'], 'g', 60)
    assert any_db.uploads_expired() == []
    assert not any_db.upload_takeover(alive['id'], 'reaper', 60)
    expire(any_db, gone['id'])
    assert any_db.uploads_expired() == [gone['id']]
    assert any_db.upload_takeover(gone['id'], 'reaper', 60)
    assert not any_db.upload_takeover(gone['id'], 'second-reaper', 60)
    assert not any_db.upload_renew(gone['id'], 'g', 60)        # the uploader lost it
    with pytest.raises(exception.Conflict):
        any_db.image_update(gone['id'], {'status': 'active'}, lease='g')
    assert any_db.image_update(gone['id'], {'status': 'queued'},
                               lease='reaper')['status'] == 'queued'
    assert any_db.uploads_expired() == []


def test_data_owners_are_live_locations_and_uploads(any_db):  # noqa: F811
    active, saving, deleted = _image(any_db), _image(any_db), _image(any_db)
    any_db.image_update(active['id'], {'status': 'active'},
                        add_locations=[('file:///a', {'store': 'fast'})])
    any_db.image_update(deleted['id'], {'status': 'active'},
                        add_locations=[('file:///d', {})])
    any_db.image_delete(deleted['id'])
    any_db.upload_start(saving['id'], 'x', 60)
    owners = any_db.data_owners()
    assert owners['locations'] == [{'image_id': active['id'], 'url': 'file:///a',
                                    'metadata': {'store': 'fast'}}]
    assert owners['uploading'] == [saving['id']]


def test_property_values_up_to_64_ki_characters(any_db):  # noqa: F811
    image = _image(any_db)
    any_db.image_update(image['id'], {}, set_properties={'big': 'x' * 65536})
    assert any_db.image_get(image['id'])['properties']['big'] == 'x' * 65536
    with pytest.raises(exception.BadRequest):
        any_db.image_update(image['id'], {}, set_properties={'big': 'x' * 65537})
