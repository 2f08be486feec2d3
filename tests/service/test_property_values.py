"""Long image property values on every database (SQLite, MariaDB, PostgreSQL, and
through glance-registry): up to 64 Ki characters round-trip, longer is 400, never 500.

Before migration 0002 PostgreSQL answered 500 past about 2.7 KB: its name/value index
held the whole value and a btree entry is limited to a third of a page."""
from __future__ import annotations

import pytest

from tests.service.http_checks import patch

MAX = 64 * 1024


@pytest.mark.parametrize('char', ['x', '\u00e9', '\U0001f600'], ids=['ascii', '2-byte', '4-byte'])
def test_a_64_kib_property_value_round_trips(api, char):
    value = char * MAX
    image = api.create(name='long-property', big=value)
    assert api.get('/v2/images/' + image['id']).json()['big'] == value
    changed = patch(api, image['id'], [{'op': 'replace', 'path': '/big',
                                        'value': value[:-1] + '!'}])
    assert changed.status_code == 200, changed.text[:300]
    assert api.get('/v2/images/' + image['id']).json()['big'] == value[:-1] + '!'


def test_a_longer_property_value_is_400(api):
    resp = api.post('/v2/images', json={'name': 'too-long', 'big': 'x' * (MAX + 1)})
    assert resp.status_code == 400, resp.text[:300]
    image = api.create(name='too-long-later')
    resp = patch(api, image['id'], [{'op': 'add', 'path': '/big', 'value': 'x' * (MAX + 1)}])
    assert resp.status_code == 400, resp.text[:300]
    assert 'big' not in api.get('/v2/images/' + image['id']).json()


def test_listing_filters_by_a_value_longer_than_the_index_prefix(api):
    """The filter compares the indexed prefix and the whole value: values that share
    their first 255 characters are still told apart."""
    common = 'p' * 3000
    first = api.create(name='prefix-a', shared_prefix=common + 'a')
    api.create(name='prefix-b', shared_prefix=common + 'b')
    found = api.get('/v2/images', params={'shared_prefix': common + 'a'}).json()['images']
    assert [i['id'] for i in found] == [first['id']]
