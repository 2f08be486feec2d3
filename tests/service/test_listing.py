"""GET /v2/images: paging, sorting and filtering as Glance does them.

Upstream reference: glance/api/v2/images.py (RequestDeserializer.index,
ImagesController.index) and glance/db/sqlalchemy/api.py (_image_get_all,
_make_conditions_from_filters). The server is shared by the whole session, so every test
tags its images with a property of its own (``batch``) and lists with that filter.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import urllib.parse
import uuid

import pytest

from tests.service.conftest import DATABASES, Client, fresh_database
from tests.service.server import GlintServer

SORT_KEYS = ('name', 'status', 'container_format', 'disk_format', 'size', 'id',
             'created_at', 'updated_at')


class Batch:
    """Images made for one test, found again with the ``batch`` property."""

    def __init__(self, client):
        self.client = client
        self.key = uuid.uuid4().hex
        self.ids: list[str] = []

    def create(self, data: bytes | None = None, **body) -> dict:
        image = self.client.create(batch=self.key, **body)
        if data is not None:
            assert self.client.upload(image['id'], data).status_code == 204
            image = self.client.get('/v2/images/' + image['id']).json()
        self.ids.append(image['id'])
        return image

    def list(self, **params):
        resp = self.client.get('/v2/images', params={'batch': self.key, **params})
        assert resp.status_code == 200, resp.text
        return resp.json()

    def ids_of(self, **params) -> list[str]:
        return [i['id'] for i in self.list(**params)['images']]

    def names(self, **params) -> list[str]:
        return [i['name'] for i in self.list(**params)['images']]

    def status_of(self, **params) -> int:
        return self.client.get('/v2/images', params={'batch': self.key, **params}).status_code

    def walk(self, **params) -> tuple[list[str], int]:
        """Follow ``next`` links from the first page: (ids in order, pages)."""
        body = self.list(**params)
        ids, pages = [i['id'] for i in body['images']], 1
        while 'next' in body:
            resp = self.client.get(body['next'])
            assert resp.status_code == 200, resp.text
            body = resp.json()
            ids += [i['id'] for i in body['images']]
            pages += 1
            assert pages < 100
        return ids, pages


@pytest.fixture
def batch(api):
    return Batch(api)


def query_of(link: str) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)


# -- limits and pages -----------------------------------------------------------------
def test_default_page_is_25_images(batch):
    for i in range(27):
        batch.create(name='page-%02d' % i)
    body = batch.list()
    assert len(body['images']) == 25
    assert body['schema'] == '/v2/schemas/images'
    assert body['first'].startswith('/v2/images')
    assert query_of(body['next'])['marker'] == [body['images'][-1]['id']]
    assert query_of(body['next'])['batch'] == [batch.key]
    ids, pages = batch.walk()
    assert pages == 2
    assert sorted(ids) == sorted(batch.ids) and len(set(ids)) == 27


def test_exactly_full_last_page_has_next_then_empty_page(batch):
    for _ in range(4):
        batch.create(name='full')
    body = batch.list(limit=2)
    assert len(body['images']) == 2 and 'next' in body
    ids, pages = batch.walk(limit=2)
    assert sorted(ids) == sorted(batch.ids)
    assert pages == 3           # 2 + 2 + an empty page, as Glance pages


def test_limit_zero_gives_an_empty_page(batch):
    batch.create(name='zero')
    body = batch.list(limit=0)
    assert body['images'] == [] and 'next' not in body


@pytest.mark.parametrize('limit', ['abc', '-1', '1.5', '', '0x10', '-100'])
def test_invalid_limit_is_400(batch, limit):
    assert batch.status_of(limit=limit) == 400


@pytest.mark.parametrize('sort', [
    {}, {'sort_key': 'name', 'sort_dir': 'asc'}, {'sort_key': 'size', 'sort_dir': 'asc'},
    {'sort_key': 'size', 'sort_dir': 'desc'}, {'sort': 'name:asc,size:desc'},
    {'sort_key': ['status', 'name'], 'sort_dir': ['asc', 'desc']},
    {'sort': 'disk_format:asc,name:desc'}, {'sort_key': 'updated_at'},
    {'sort_key': 'id', 'sort_dir': 'asc'},
])
def test_marker_pagination_visits_every_image_once(batch, sort):
    """Keyset pages stay correct with equal sort keys and NULL names and sizes."""
    for i in range(11):
        data = None if i % 3 == 0 else b'x' * (i % 4)
        batch.create(data, name=None if i % 5 == 0 else 'same-%d' % (i % 2),
                     disk_format='qcow2' if i % 2 else 'raw')
    everything = batch.ids_of(limit=100, **sort)
    assert sorted(everything) == sorted(batch.ids)
    for limit in (1, 3, 4):
        ids, pages = batch.walk(limit=limit, **sort)
        assert ids == everything, limit
        assert pages >= len(ids) // limit


def test_next_link_keeps_filters_and_sorting(batch):
    for i in range(5):
        batch.create(name='keep', os_distro='keep-%d' % (i % 2))
    body = batch.list(limit=1, sort_key='name', sort_dir='asc', os_distro='keep-0')
    query = query_of(body['next'])
    assert query['sort_key'] == ['name'] and query['sort_dir'] == ['asc']
    assert query['os_distro'] == ['keep-0'] and query['limit'] == ['1']
    ids, _ = batch.walk(limit=1, os_distro='keep-0')
    assert len(ids) == 3


def test_unknown_marker_is_400(batch, api):
    batch.create(name='marker')
    assert batch.status_of(marker=str(uuid.uuid4())) == 400
    assert batch.status_of(marker='not-a-uuid') == 400
    assert batch.status_of(marker='x' * 300) == 400


def test_deleted_marker_is_400_for_a_project(as_project):
    batch = Batch(as_project('list-' + uuid.uuid4().hex))
    for _ in range(3):
        batch.create(name='deleted-marker')
    gone = batch.ids.pop()
    assert batch.client.delete('/v2/images/' + gone).status_code == 204
    assert batch.status_of(marker=gone) == 400


@pytest.fixture(scope='module', params=DATABASES)
def small_pages(request):
    """A glance-api whose api_limit_max is smaller than limit_param_default."""
    url, drop = fresh_database(request.param)
    srv = GlintServer(url, overrides={'DEFAULT': {'api_limit_max': 4}}).start()
    yield srv
    srv.cleanup()
    drop()


def test_api_limit_max_caps_every_page(small_pages):
    batch = Batch(Client(small_pages.url))
    for _ in range(6):
        batch.create(name='capped')
    assert len(batch.list()['images']) == 4           # default 25, capped to 4
    assert len(batch.list(limit=1000)['images']) == 4
    assert len(batch.list(limit=3)['images']) == 3
    ids, pages = batch.walk(limit=1000)
    assert sorted(ids) == sorted(batch.ids) and pages == 2


# -- sorting --------------------------------------------------------------------------
@pytest.fixture
def sortable(batch):
    specs = [('b', b'xx', 'raw'), ('a', b'x', 'qcow2'), ('c', None, 'iso'),
             ('a', b'xxx', 'raw'), ('b', None, 'qcow2')]
    for name, data, disk_format in specs:
        batch.create(data, name=name, disk_format=disk_format)
    return batch


def _created_desc(batch):
    return batch.ids_of(sort_key='created_at', sort_dir='desc', limit=100)


def test_default_sort_is_created_at_descending(sortable):
    assert sortable.ids_of() == _created_desc(sortable)
    assert sortable.ids_of() == list(reversed(sortable.ids_of(sort_dir='asc')))


def test_classic_single_sort_key(sortable):
    assert sortable.names(sort_key='name', sort_dir='asc') == ['a', 'a', 'b', 'b', 'c']
    assert sortable.names(sort_key='name', sort_dir='desc') == ['c', 'b', 'b', 'a', 'a']
    assert sortable.names(sort_key='name') == ['c', 'b', 'b', 'a', 'a']   # desc default
    sizes = [i['size'] for i in sortable.list(sort_key='size', sort_dir='asc')['images']]
    assert sizes[2:] == [1, 2, 3] and sizes[:2] == [None, None]


def test_classic_multiple_sort_keys(sortable):
    images = sortable.list(sort_key=['name', 'size'], sort_dir=['asc', 'desc'])['images']
    assert [(i['name'], i['size']) for i in images] == [
        ('a', 3), ('a', 1), ('b', 2), ('b', None), ('c', None)]
    # one sort_dir applies to every key
    images = sortable.list(sort_key=['disk_format', 'name'], sort_dir='asc')['images']
    assert [(i['disk_format'], i['name']) for i in images] == [
        ('iso', 'c'), ('qcow2', 'a'), ('qcow2', 'b'), ('raw', 'a'), ('raw', 'b')]


def test_new_sort_syntax(sortable):
    images = sortable.list(sort='name:asc,size:desc')['images']
    assert [(i['name'], i['size']) for i in images] == [
        ('a', 3), ('a', 1), ('b', 2), ('b', None), ('c', None)]
    images = sortable.list(sort='disk_format:desc,name')['images']   # name: desc default
    assert [(i['disk_format'], i['name']) for i in images] == [
        ('raw', 'b'), ('raw', 'a'), ('qcow2', 'b'), ('qcow2', 'a'), ('iso', 'c')]


def test_ties_are_broken_by_created_at_and_id_in_glances_direction(batch):
    """Glance appends created_at and id with the single given direction, else desc."""
    for _ in range(4):
        batch.create(name='tie')
    desc = batch.ids_of(sort='created_at:desc,id:desc')
    asc = batch.ids_of(sort='created_at:asc,id:asc')
    assert desc == list(reversed(asc))
    assert batch.ids_of(sort_key='name', sort_dir='asc') == asc
    assert batch.ids_of(sort='name:asc') == asc
    assert batch.ids_of(sort_key='name') == desc
    assert batch.ids_of(sort_key=['name', 'status'], sort_dir='asc') == asc
    assert batch.ids_of(sort='name:desc,status:asc') == desc
    assert batch.ids_of(sort_key=['name', 'status'], sort_dir=['desc', 'asc']) == desc
    assert batch.ids_of(sort='name:asc,status:asc') == desc


@pytest.mark.parametrize('key', SORT_KEYS)
def test_every_sort_key_is_accepted(sortable, key):
    for direction in ('asc', 'desc'):
        ids = sortable.ids_of(sort_key=key, sort_dir=direction)
        assert sorted(ids) == sorted(sortable.ids)


@pytest.mark.parametrize('params', [
    {'sort_key': 'owner'}, {'sort_key': 'os_distro'}, {'sort_key': 'batch'},
    {'sort_key': 'checksum'}, {'sort_key': ''}, {'sort_key': 'name', 'sort_dir': 'up'},
    {'sort_dir': 'ASC'}, {'sort': 'name:up'}, {'sort': 'owner:asc'}, {'sort': ''},
    {'sort': 'name:asc', 'sort_key': 'size'}, {'sort': 'name:asc', 'sort_dir': 'asc'},
    {'sort_key': ['name', 'size', 'status'], 'sort_dir': ['asc', 'desc']},
    {'sort_dir': ['asc', 'desc']},
])
def test_invalid_sort_is_400(batch, params):
    assert batch.status_of(**params) == 400


# -- filters --------------------------------------------------------------------------
def test_filter_by_name_status_and_formats(batch):
    a = batch.create(b'aaa', name='alpha', disk_format='qcow2')
    b = batch.create(name='beta', disk_format='raw', container_format='ovf')
    c = batch.create(b'c', name='gamma', disk_format='iso')
    assert batch.ids_of(name='alpha') == [a['id']]
    assert batch.ids_of(name='ALPHA') in ([], [a['id']])    # collation is the database's
    assert batch.ids_of(name='alp') == []
    assert set(batch.ids_of(status='active')) == {a['id'], c['id']}
    assert batch.ids_of(status='queued') == [b['id']]
    assert batch.ids_of(disk_format='iso') == [c['id']]
    assert batch.ids_of(container_format='ovf') == [b['id']]
    assert batch.ids_of(id=b['id']) == [b['id']]


def test_in_operator(batch):
    comma = batch.create(name='a,b')
    plain = batch.create(name='c')
    quoted = batch.create(b'q', name='d"e', disk_format='iso')
    other = batch.create(name='z', disk_format='qcow2')
    assert set(batch.ids_of(name='in:"a,b",c')) == {comma['id'], plain['id']}
    assert batch.ids_of(name='in:a,b') == []
    assert batch.ids_of(name='in:c') == [plain['id']]
    assert set(batch.ids_of(id='in:%s,%s' % (other['id'], quoted['id']))) == {
        other['id'], quoted['id']}
    assert set(batch.ids_of(status='in:active,killed')) == {quoted['id']}
    assert set(batch.ids_of(disk_format='in:iso,qcow2')) == {quoted['id'], other['id']}
    assert set(batch.ids_of(name='in:"d\\"e",z')) in ({quoted['id'], other['id']},
                                                      {other['id']})


@pytest.mark.parametrize('params', [{'name': 'gt:a'}, {'status': 'neq:active'},
                                    {'disk_format': 'like:raw'}, {'id': 'lt:x'},
                                    {'name': 'in:"unclosed'}])
def test_unknown_operator_or_bad_in_list_is_400(batch, params):
    assert batch.status_of(**params) == 400


def test_filter_by_visibility(batch):
    ids = {v: batch.create(name=v, visibility=v)['id']
           for v in ('public', 'private', 'shared', 'community')}
    for visibility, image_id in ids.items():
        assert batch.ids_of(visibility=visibility) == [image_id]
    assert set(batch.ids_of(visibility='all')) == set(ids.values())
    # the default listing leaves community images out
    assert set(batch.ids_of()) == set(ids.values()) - {ids['community']}


@pytest.mark.parametrize('visibility', ['everyone', 'Public', 'none'])
def test_invalid_visibility_is_400(batch, visibility):
    assert batch.status_of(visibility=visibility) == 400


@pytest.mark.parametrize('member_status', ['maybe', 'Accepted', ''])
def test_invalid_member_status_is_400(batch, member_status):
    assert batch.status_of(member_status=member_status) == 400


def test_filter_by_owner(batch):
    mine = batch.create(name='owned', owner='owner-a')
    batch.create(name='owned', owner='owner-b')
    assert batch.ids_of(owner='owner-a') == [mine['id']]
    assert batch.ids_of(owner='nobody') == []


def test_filter_by_tags_is_and(batch):
    both = batch.create(name='both', tags=['red', 'blue'])
    red = batch.create(name='red', tags=['red'])
    batch.create(name='none')
    assert set(batch.ids_of(tag='red')) == {both['id'], red['id']}
    assert batch.ids_of(tag=['red', 'blue']) == [both['id']]
    assert batch.ids_of(tag=['red', 'green']) == []


def test_filter_by_size_range(batch):
    sizes = {n: batch.create(b'x' * n, name='size-%d' % n)['id'] for n in (1, 10, 100)}
    batch.create(name='no-size')
    assert set(batch.ids_of(size_min=10)) == {sizes[10], sizes[100]}
    assert set(batch.ids_of(size_max=10)) == {sizes[1], sizes[10]}
    assert batch.ids_of(size_min=10, size_max=10) == [sizes[10]]
    assert batch.ids_of(size_min=101) == []
    for bad in ('big', '1.5', ''):
        assert batch.status_of(size_min=bad) == 400
        assert batch.status_of(size_max=bad) == 400


def test_filter_by_protected(batch):
    locked = batch.create(name='locked', protected=True)
    loose = batch.create(name='loose')
    assert batch.ids_of(protected='true') == [locked['id']]
    assert batch.ids_of(protected='false') == [loose['id']]
    assert batch.status_of(protected='yes') == 400


def test_hidden_images_are_left_out_by_default(batch):
    hidden = batch.create(name='hidden', os_hidden=True)
    shown = batch.create(name='shown')
    assert batch.ids_of() == [shown['id']]
    assert batch.ids_of(os_hidden='false') == [shown['id']]
    assert batch.ids_of(os_hidden='true') == [hidden['id']]
    assert batch.ids_of(os_hidden='True') == [hidden['id']]
    assert batch.status_of(os_hidden='maybe') == 400
    assert batch.client.get('/v2/images/' + hidden['id']).status_code == 200


def test_filter_by_checksum_and_hash(batch):
    one = batch.create(b'one', name='one')
    batch.create(b'two', name='two')
    assert one['checksum'] == hashlib.md5(b'one').hexdigest()
    assert batch.ids_of(checksum=one['checksum']) == [one['id']]
    assert batch.ids_of(os_hash_value=hashlib.sha512(b'one').hexdigest()) == [one['id']]
    assert batch.ids_of(checksum='0' * 32) == []


def test_filter_by_custom_properties(batch):
    ubuntu = batch.create(name='u', os_distro='ubuntu', os_version='24.04')
    batch.create(name='u2', os_distro='ubuntu', os_version='22.04')
    batch.create(name='d', os_distro='debian')
    assert len(batch.ids_of(os_distro='ubuntu')) == 2
    assert batch.ids_of(os_distro='ubuntu', os_version='24.04') == [ubuntu['id']]
    assert batch.ids_of(os_distro='fedora') == []
    assert batch.ids_of(no_such_property='x') == []


def _iso(moment: dt.datetime) -> str:
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


@pytest.mark.parametrize('field', ['created_at', 'updated_at'])
def test_filter_by_time(batch, field):
    image = batch.create(name='timed')
    when = dt.datetime.strptime(image[field], '%Y-%m-%dT%H:%M:%SZ')
    before, after = _iso(when - dt.timedelta(days=1)), _iso(when + dt.timedelta(days=1))
    found = [image['id']]
    expectations = [
        ('gt:' + before, found), ('gte:' + before, found), ('lt:' + before, []),
        ('lte:' + before, []), ('eq:' + before, []), ('neq:' + before, found),
        ('lt:' + after, found), ('lte:' + after, found), ('gt:' + after, []),
        ('gte:' + after, []), (before, []),
        # 02:00 ahead of UTC: local when+3h is UTC when+1h, local when+1h is UTC when-1h
        ('gt:' + (when + dt.timedelta(hours=3)).strftime('%Y-%m-%dT%H:%M:%S+02:00'), []),
        ('gt:' + (when + dt.timedelta(hours=1)).strftime('%Y-%m-%dT%H:%M:%S+02:00'), found),
    ]
    for value, expected in expectations:
        assert batch.ids_of(**{field: value}) == expected, value


@pytest.mark.parametrize('value', ['gt:yesterday', 'gt:2020-13-45T00:00:00Z', 'gt:',
                                   'nonsense', 'foo:2020-01-01T00:00:00Z',
                                   'in:2020-01-01T00:00:00Z', 'like:2020-01-01T00:00:00Z'])
@pytest.mark.parametrize('field', ['created_at', 'updated_at'])
def test_bad_time_filter_is_400(batch, field, value):
    assert batch.status_of(**{field: value}) == 400


def test_changes_since_is_400(batch):
    assert batch.status_of(**{'changes-since': '2020-01-01T00:00:00Z'}) == 400
