"""The SQL database layer on its own: soft delete, purge, keyset pagination."""
import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from glint.common import exception
from glint.db.api import ListQuery
from glint.db.sqlalchemy import api as sql_api
from glint.db.sqlalchemy import migrate


@pytest.fixture
def db(tmp_path):
    engine = sql_api.create_engine('sqlite:///%s' % (tmp_path / 'glance.sqlite'))
    migrate.upgrade(engine)
    return sql_api.Database(engine)


def _image(db, **values):
    row = {'id': str(uuid.uuid4()), 'status': 'queued', 'visibility': 'public',
           'owner': 'p1', 'min_disk': 0, 'min_ram': 0, 'protected': False,
           'os_hidden': False, **values}
    return db.image_create(row, {'k': 'v'}, ['t'])


def test_schema_is_at_head(db):
    assert migrate.current(db.engine) == migrate.head()


def test_deleted_image_keeps_its_id_until_purged(db):
    image = _image(db)
    db.image_delete(image['id'])
    with pytest.raises(exception.NotFound):
        db.image_get(image['id'])
    with pytest.raises(exception.Conflict):
        _image(db, id=image['id'])
    assert db.purge(age_in_days=1) == 0        # deleted just now: kept


def test_purge_removes_old_deleted_images_and_their_children(db):
    old, recent, alive = _image(db), _image(db), _image(db)
    db.member_create(old['id'], 'p2')
    for image in (old, recent):
        db.image_delete(image['id'])
    long_ago = dt.datetime.now() - dt.timedelta(days=40)
    with db.engine.begin() as conn:
        conn.execute(sql_api.images.update().where(sql_api.images.c.id == old['id'])
                     .values(deleted_at=long_ago))
    assert db.purge(age_in_days=30) == 1
    with db.engine.connect() as conn:
        ids = {r.id for r in conn.execute(sa.select(sql_api.images.c.id))}
        orphans = [conn.execute(sa.select(sa.func.count()).select_from(t)
                                .where(t.c.image_id == old['id'])).scalar()
                   for t in (sql_api.props, sql_api.tags_t, sql_api.members)]
    assert ids == {recent['id'], alive['id']}
    assert orphans == [0, 0, 0]


def test_keyset_pagination_with_null_sort_values(db):
    names = ['b', None, 'a', None, 'c', 'a']
    created = {_image(db, name=n)['id'] for n in names}
    for direction in ('asc', 'desc'):
        seen, marker = [], None
        while True:
            page = db.image_list(ListQuery(project_id='p1', is_admin=False, limit=2,
                                           marker=marker, sort=[('name', direction)]))
            if not page:
                break
            seen += page
            marker = page[-1]['id']
        assert {i['id'] for i in seen} == created and len(seen) == len(created)
        keys = [(i['name'] is not None, i['name'] or '') for i in seen]
        assert keys == sorted(keys, reverse=direction == 'desc')


def test_conditional_update_refuses_wrong_status(db):
    image = _image(db)
    db.image_update(image['id'], {'status': 'saving'}, expect_status=('queued',))
    with pytest.raises(exception.Conflict):
        db.image_update(image['id'], {'status': 'saving'}, expect_status=('queued',))


def test_create_returns_what_a_read_returns(db):
    created = db.image_create(
        {'id': str(uuid.uuid4()), 'status': 'queued', 'visibility': 'shared', 'owner': 'p1',
         'min_disk': 0, 'min_ram': 0, 'protected': False, 'os_hidden': False, 'name': 'n'},
        {'a': '1', 'b': '2'}, ['x', 'y', 'x'])
    assert created == db.image_get(created['id'])
