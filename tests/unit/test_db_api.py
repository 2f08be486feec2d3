"""The SQL database layer on its own: soft delete, purge, keyset pagination.

The tests that need no SQL run against the domain tests' in-memory double too
(``any_db``), and a listing matrix compares the two, so the double stays faithful.
"""
import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from glint.common import exception
from glint.db.api import Filter, ListQuery
from glint.db.sqlalchemy import api as sql_api
from glint.db.sqlalchemy import migrate
from tests.unit.domain.memory_db import MemoryDatabase


@pytest.fixture
def db(tmp_path):
    engine = sql_api.create_engine('sqlite:///%s' % (tmp_path / 'glance.sqlite'))
    migrate.upgrade(engine)
    return sql_api.Database(engine)


@pytest.fixture(params=['sqlalchemy', 'memory'])
def any_db(request, tmp_path):
    return request.getfixturevalue('db') if request.param == 'sqlalchemy' \
        else MemoryDatabase()


def _image(db, **values):
    row = {'id': str(uuid.uuid4()), 'status': 'queued', 'visibility': 'public',
           'owner': 'p1', 'min_disk': 0, 'min_ram': 0, 'protected': False,
           'os_hidden': False, **values}
    return db.image_create(row, {'k': 'v'}, ['t'])


def test_schema_is_at_head(db):
    assert migrate.current(db.engine) == migrate.head()


def test_deleted_image_keeps_its_id_until_purged(any_db):
    image = _image(any_db)
    any_db.image_delete(image['id'])
    with pytest.raises(exception.NotFound):
        any_db.image_get(image['id'])
    with pytest.raises(exception.Conflict):
        _image(any_db, id=image['id'])
    assert any_db.purge(age_in_days=1) == 0        # deleted just now: kept


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


def test_keyset_pagination_with_null_sort_values(any_db):
    names = ['b', None, 'a', None, 'c', 'a']
    created = {_image(any_db, name=n)['id'] for n in names}
    for direction in ('asc', 'desc'):
        seen, marker = [], None
        while True:
            page = any_db.image_list(ListQuery(project_id='p1', is_admin=False, limit=2,
                                               marker=marker, sort=[('name', direction)]))
            if not page:
                break
            seen += page
            marker = page[-1]['id']
        assert {i['id'] for i in seen} == created and len(seen) == len(created)
        keys = [(i['name'] is not None, i['name'] or '') for i in seen]
        assert keys == sorted(keys, reverse=direction == 'desc')


def test_conditional_update_refuses_wrong_status(any_db):
    image = _image(any_db)
    any_db.image_update(image['id'], {'status': 'saving'}, expect_status=('queued',))
    with pytest.raises(exception.Conflict):
        any_db.image_update(image['id'], {'status': 'saving'}, expect_status=('queued',))


def test_create_returns_what_a_read_returns(any_db):
    created = any_db.image_create(
        {'id': str(uuid.uuid4()), 'status': 'queued', 'visibility': 'shared', 'owner': 'p1',
         'min_disk': 0, 'min_ram': 0, 'protected': False, 'os_hidden': False, 'name': 'n'},
        {'a': '1', 'b': '2'}, ['x', 'y', 'x'])
    assert created == any_db.image_get(created['id'])


# -- the in-memory double against SQL -------------------------------------------------
def _populate(db) -> None:
    """The same images, memberships and children in any database (fixed ids)."""
    kinds = [('public', 'p1'), ('private', 'p1'), ('shared', 'p1'), ('community', 'p1'),
             ('public', 'p2'), ('private', 'p2'), ('shared', 'p2'), ('community', 'p2'),
             ('shared', None)]
    for n, (visibility, owner) in enumerate(kinds * 2):
        image_id = '00000000-0000-0000-0000-%012d' % n
        db.image_create({'id': image_id, 'status': 'queued', 'visibility': visibility,
                         'owner': owner, 'min_disk': n % 3, 'min_ram': 0,
                         'protected': False, 'os_hidden': n % 5 == 0,
                         'name': [None, 'a', 'b'][n % 3], 'size': [None, 10, 20][n % 3]},
                        {'os_distro': 'cirros' if n % 2 else 'debian'},
                        ['even'] if n % 2 == 0 else [])
        if visibility == 'shared':
            db.member_create(image_id, 'p3')
            db.member_update(image_id, 'p3', ['accepted', 'pending', 'rejected'][n % 3])
        if n % 4 == 1:
            db.image_update(image_id, {'status': 'active'})
        if n == 7:
            db.image_delete(image_id)
        if n == 8:
            db.image_update(image_id, {'status': 'killed'})


QUERIES = [
    dict(project_id=project, is_admin=admin, visibility=visibility,
         member_status=member_status, os_hidden=hidden)
    for project in ('p1', 'p3', None) for admin in (False, True)
    for visibility in (None, 'all', 'shared', 'community')
    for member_status in ('accepted', 'all') for hidden in (False, None)
] + [
    dict(project_id='p1', is_admin=False, filters=[Filter('size', 'gte', 15)]),
    dict(project_id='p1', is_admin=False, filters=[Filter('size', 'neq', 10)]),
    dict(project_id='p1', is_admin=False, filters=[Filter('name', 'eq', None)]),
    dict(project_id='p1', is_admin=False, filters=[Filter('name', 'in', ['a', 'x'])]),
    dict(project_id='p1', is_admin=True, properties={'os_distro': ['cirros']},
         tags=['even']),
    dict(project_id='p3', is_admin=False, sort=[('name', 'asc'), ('size', 'desc')]),
    dict(project_id='p3', is_admin=False, sort=[('size', 'asc')], limit=3),
]


@pytest.fixture(scope='module')
def populated(tmp_path_factory):
    """(SQL, double), populated alike once: the listing tests only read."""
    engine = sql_api.create_engine('sqlite:///%s'
                                   % (tmp_path_factory.mktemp('db') / 'glance.sqlite'))
    migrate.upgrade(engine)
    pair = sql_api.Database(engine), MemoryDatabase()
    for each in pair:
        _populate(each)
    return pair


@pytest.mark.parametrize('query', QUERIES)
def test_the_double_lists_as_sql_does(populated, query):
    db, double = populated

    def ids(database, marker=None):
        found = database.image_list(ListQuery(**query, marker=marker))
        return [i['id'] for i in found]
    assert ids(double) == ids(db)
    if ids(db):
        marker = ids(db)[len(ids(db)) // 2]
        assert ids(double, marker) == ids(db, marker)


def test_the_double_returns_rows_as_sql_does(db):
    double = MemoryDatabase()
    for each in (db, double):
        _populate(each)
    image_id = '00000000-0000-0000-0000-000000000002'
    double.image_update(image_id, {'status': 'active'}, add_locations=[('file:///x', {})])
    db.image_update(image_id, {'status': 'active'}, add_locations=[('file:///x', {})])

    def without_times(row):
        return {k: v for k, v in row.items()
                if k not in ('created_at', 'updated_at', 'deleted_at')}
    assert without_times(double.image_get(image_id)) == without_times(db.image_get(image_id))
    assert [without_times(m) for m in double.member_list(image_id)] == \
        [without_times(m) for m in db.member_list(image_id)]
    for owner in ('p1', 'p2', None):
        assert double.storage_used(owner) == db.storage_used(owner)
        assert double.image_count(owner) == db.image_count(owner)
