"""Bad input is a 4xx in Glance's error shape, never a 5xx, and changes nothing.

Issue 15, items 4-6: integers beyond what the database holds, numbers and times that
Python cannot convert, lone surrogates (valid JSON escapes, not encodable text), ids
with a trailing newline or control characters, and JSON bodies sent chunked.
Upstream reference: glance/db/sqlalchemy/api.py (_validate_db_int), glance/domain
(min_disk / min_ram setters), glance/common/wsgi.py (JSONRequestDeserializer.has_body,
get_range_from_request).
"""
from __future__ import annotations

import http
import json
import uuid

import pytest

from tests.service.http_checks import PATCH, PATCH_D4, patch

INT32_MAX = 2 ** 31 - 1
INT64_MAX = 2 ** 63 - 1
MAX_JSON_BODY = 1024 * 1024
MANY_DIGITS = '9' * 5000      # int() refuses more than 4300 digits
# (a query string cannot hold that many: gunicorn's request line stops at 4094 bytes)
MANY_DIGITS_IN_A_QUERY = '9' * 4000
SURROGATE = '\ud800'


@pytest.fixture
def client(api):
    """The admin client, asking for JSON errors (the shape openstacksdk parses)."""
    api.headers['Accept'] = 'application/json'
    return api


@pytest.fixture
def image(client):
    return client.create(name='bad-input', visibility='shared', os_distro='cirros',
                         tags=['t1'])


def state(client, image_id: str | None = None):
    """What a refused request must leave as it was: the newest images, and the image
    with its members."""
    listed = client.get('/v2/images', params={'limit': 10}).json()['images']
    if image_id is None:
        return listed
    members = client.get('/v2/images/%s/members' % image_id).json()['members']
    return listed, client.get('/v2/images/' + image_id).json(), members


def assert_error(resp, status: int, message: str | None = None) -> None:
    """Glance's (webob's) JSON error body."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    phrase = http.HTTPStatus(status).phrase
    assert set(body) == {'message', 'code', 'title'}, body
    assert body['code'] == '%d %s' % (status, phrase) and body['title'] == phrase
    if message is not None:
        assert message in body['message'], body['message']


# -- item 4: integers the database cannot hold ------------------------------------
OUT_OF_RANGE = [INT32_MAX + 1, INT64_MAX, 2 ** 64, 10 ** 30]
NEGATIVE = [-1, -(2 ** 64)]


def _min_message(field: str, value: int) -> str:
    if value < 0:
        return ("Invalid value '%d' for parameter '%s': Cannot be a negative value"
                % (value, field))
    return "'%s' value out of range, must not exceed %d." % (field, INT32_MAX)


@pytest.mark.parametrize('value', OUT_OF_RANGE + NEGATIVE)
@pytest.mark.parametrize('field', ['min_disk', 'min_ram'])
def test_min_value_beyond_the_column_is_400_on_create(client, image, field, value):
    before = state(client, image['id'])
    resp = client.post('/v2/images', json={'name': 'too-big', field: value})
    assert_error(resp, 400, _min_message(field, value))
    assert state(client, image['id']) == before


@pytest.mark.parametrize('value', OUT_OF_RANGE + NEGATIVE)
@pytest.mark.parametrize('field', ['min_disk', 'min_ram'])
@pytest.mark.parametrize('content_type', [PATCH, PATCH_D4], ids=['v2.1', 'v2.0'])
def test_min_value_beyond_the_column_is_400_on_patch(client, image, field, value,
                                                     content_type):
    before = state(client, image['id'])
    op = ({'op': 'replace', 'path': '/' + field, 'value': value} if content_type == PATCH
          else {'replace': '/' + field, 'value': value})
    resp = patch(client, image['id'], [op], content_type)
    assert_error(resp, 400, _min_message(field, value))
    assert state(client, image['id']) == before


@pytest.mark.parametrize('field', ['min_disk', 'min_ram'])
def test_min_value_at_the_column_limit_is_stored(client, image, field):
    created = client.create(name='largest', **{field: INT32_MAX})
    assert client.get('/v2/images/' + created['id']).json()[field] == INT32_MAX
    resp = patch(client, image['id'], [{'op': 'replace', 'path': '/' + field,
                                        'value': INT32_MAX}])
    assert resp.status_code == 200 and resp.json()[field] == INT32_MAX, resp.text


# filter -> its column's INTEGER / BIGINT bound (PostgreSQL casts to the column's type)
FILTER_MAX = {column + suffix: bound
              for column, bound in (('size', INT64_MAX), ('virtual_size', INT64_MAX),
                                    ('min_ram', INT32_MAX), ('min_disk', INT32_MAX))
              for suffix in ('_min', '_max', '')}


@pytest.mark.parametrize('name', FILTER_MAX)
def test_number_beyond_the_column_in_a_filter_is_400(client, name):
    bound = FILTER_MAX[name]
    for value in (bound + 1, -bound - 2, 10 ** 30, MANY_DIGITS_IN_A_QUERY):
        assert_error(client.get('/v2/images', params={name: value}), 400)


@pytest.mark.parametrize('name', FILTER_MAX)
def test_numbers_the_column_holds_work_in_a_filter(client, image, name):
    bound = FILTER_MAX[name]
    for value in (bound, -bound - 1):
        resp = client.get('/v2/images', params={name: value})
        assert resp.status_code == 200, (value, resp.text)


# -- item 4: a Range with thousands of digits ---------------------------------------
# (gunicorn takes header lines up to 8190 bytes)
DATA = b'0123456789'


@pytest.fixture
def with_data(client, image):
    assert client.upload(image['id'], DATA).status_code == 204
    return image


@pytest.mark.parametrize('header', ['bytes=%s-' % MANY_DIGITS,
                                    'bytes=%s-%s' % (MANY_DIGITS, '9' * 3000),
                                    'bytes=%s-' % ('1' + '0' * 30)])
def test_range_starting_beyond_any_image_is_416(client, with_data, header):
    resp = client.get('/v2/images/%s/file' % with_data['id'], headers={'Range': header})
    assert_error(resp, 416)


@pytest.mark.parametrize('header', ['bytes=0-%s' % MANY_DIGITS,
                                    'bytes=-%s' % MANY_DIGITS,
                                    'bytes=%s-%s' % ('0' * 3000, MANY_DIGITS)])
def test_range_ending_beyond_any_image_is_the_whole_image(client, with_data, header):
    """As RFC 9110 and Glance (webob) read it: the end clamps to the image's last byte,
    a suffix longer than the image is the whole image."""
    resp = client.get('/v2/images/%s/file' % with_data['id'], headers={'Range': header})
    assert resp.status_code == 206, resp.text
    assert resp.content == DATA
    assert resp.headers['Content-Range'] == 'bytes 0-9/10'


# -- item 4: times at the edge of the calendar --------------------------------------
@pytest.mark.parametrize('value', ['gte:9999-12-31T23:59:59-12:00',
                                   '9999-12-31T23:59:59-12:00',
                                   'lt:0001-01-01T00:00:00+12:00'])
@pytest.mark.parametrize('name', ['created_at', 'updated_at'])
def test_time_filter_beyond_the_calendar_is_400(client, name, value):
    assert_error(client.get('/v2/images', params={name: value}), 400,
                 'Bad "%s" query filter format. Use ISO 8601 DateTime notation.' % name)


@pytest.mark.parametrize('value', ['lt:9999-12-31T23:59:59Z',
                                   'gt:0001-01-01T00:00:00Z'])
def test_time_filter_at_the_edge_of_the_calendar_works(client, image, value):
    resp = client.get('/v2/images', params={'created_at': value, 'limit': 1000})
    assert resp.status_code == 200, resp.text


# -- item 4: lone surrogates (valid JSON, not text a database can encode) -----------
def _share(client, image_id: str, member: str) -> None:
    resp = client.post('/v2/images/%s/members' % image_id, json={'member': member})
    assert resp.status_code == 200, resp.text


CREATE_BODIES = {
    'name': {'name': SURROGATE},
    'name-in-text': {'name': 'a%sb' % SURROGATE},
    'tag': {'name': 's', 'tags': ['ok', SURROGATE]},
    'property-name': {'name': 's', 'p' + SURROGATE: 'v'},
    'property-value': {'name': 's', 'os_distro': SURROGATE},
    'low-surrogate': {'name': '\udc00'},
}


@pytest.mark.parametrize('body', CREATE_BODIES.values(), ids=CREATE_BODIES.keys())
def test_lone_surrogate_is_400_on_create(client, image, body):
    before = state(client, image['id'])
    assert_error(client.post('/v2/images', json=body), 400)
    assert state(client, image['id']) == before


def test_surrogate_encoded_as_utf8_bytes_is_400(client, image):
    """The surrogate's own UTF-8 form (CESU-8), which json.loads also lets through."""
    before = state(client, image['id'])
    resp = client.post('/v2/images', data=b'{"name": "\xed\xa0\x80"}',
                       headers={'Content-Type': 'application/json'})
    assert_error(resp, 400)
    assert state(client, image['id']) == before


def test_surrogate_pair_is_one_character_and_fine(client):
    created = client.create(name='\ud83d\ude00', tags=['\ud83d\udca5'])
    assert created['name'] == '😀' and created['tags'] == ['💥']


PATCHES = {
    'name': [{'op': 'replace', 'path': '/name', 'value': SURROGATE}],
    'tags': [{'op': 'replace', 'path': '/tags', 'value': [SURROGATE]}],
    'property-value': [{'op': 'replace', 'path': '/os_distro', 'value': SURROGATE}],
    'property-name': [{'op': 'add', 'path': '/x' + SURROGATE, 'value': 'v'}],
    'after-a-good-one': [{'op': 'replace', 'path': '/name', 'value': 'fine'},
                         {'op': 'add', 'path': '/p', 'value': SURROGATE}],
}


@pytest.mark.parametrize('ops', PATCHES.values(), ids=PATCHES.keys())
def test_lone_surrogate_is_400_on_patch(client, image, ops):
    before = state(client, image['id'])
    assert_error(patch(client, image['id'], ops), 400)
    assert state(client, image['id']) == before


def test_lone_surrogate_member_is_400(client, image):
    _share(client, image['id'], 'someone')
    before = state(client, image['id'])
    url = '/v2/images/%s/members' % image['id']
    assert_error(client.post(url, json={'member': SURROGATE}), 400)
    assert_error(client.put(url + '/someone', json={'status': SURROGATE}), 400)
    assert state(client, image['id']) == before


@pytest.mark.parametrize('escaped', ['%ED%A0%80', '%FF', 'a%C0%AFb'])
def test_undecodable_tag_or_filter_in_the_url_is_never_a_server_error(client, image,
                                                                      escaped):
    """A URL's percent escapes are bytes: not UTF-8 decodes with replacement, so what
    is stored is what is shown."""
    url = '/v2/images/%s/tags/%s' % (image['id'], escaped)
    assert client.put(url).status_code == 204
    tags = client.get('/v2/images/' + image['id']).json()['tags']
    assert client.delete(url).status_code == 204
    assert client.get('/v2/images/' + image['id']).json()['tags'] == ['t1']
    assert len(tags) == 2
    for name in ('name', 'os_distro', 'tag', 'member_status', 'created_at', 'size_min'):
        resp = client.get('/v2/images?%s=%s' % (name, escaped))
        assert resp.status_code in (200, 400), (name, resp.text)


# -- item 5: ids ---------------------------------------------------------------------
@pytest.mark.parametrize('suffix', ['\n', '\r\n', '\x00', ' '])
@pytest.mark.parametrize('field', ['id', 'kernel_id', 'ramdisk_id'])
def test_id_with_a_trailing_character_is_400_on_create(client, image, field, suffix):
    before = state(client, image['id'])
    resp = client.post('/v2/images', json={'name': 'nl', field: str(uuid.uuid4()) + suffix})
    assert_error(resp, 400, "Provided object does not match schema 'image'")
    assert state(client, image['id']) == before


@pytest.mark.parametrize('field', ['kernel_id', 'ramdisk_id'])
def test_id_with_a_trailing_newline_is_400_on_patch(client, image, field):
    before = state(client, image['id'])
    resp = patch(client, image['id'], [{'op': 'add', 'path': '/' + field,
                                        'value': str(uuid.uuid4()) + '\n'}])
    assert_error(resp, 400)
    assert state(client, image['id']) == before


def test_published_uuid_pattern_is_glances(client):
    """Validation is strict; the document clients read stays Glance's, '$' and all."""
    pattern = ('^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}'
               '-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$')
    props = client.get('/v2/schemas/image').json()['properties']
    assert props['id']['pattern'] == props['kernel_id']['pattern'] == pattern
    member = client.get('/v2/schemas/member').json()['properties']
    assert member['image_id']['pattern'] == pattern


@pytest.mark.parametrize('member', ['a\x00b', '\x00', 'a\nb', 'tab\t', '\x1b[31m',
                                    'del\x7f', 'c1\x85', 'a\u2028b'])
def test_control_character_in_a_member_id_is_400(client, image, member):
    _share(client, image['id'], 'someone')
    before = state(client, image['id'])
    resp = client.post('/v2/images/%s/members' % image['id'], json={'member': member})
    assert_error(resp, 400, 'Member id')
    assert state(client, image['id']) == before


def test_printable_member_ids_are_fine(client, image):
    for member in ('project-é', 'with space', 'x' * 255):
        _share(client, image['id'], member)
    members = state(client, image['id'])[2]
    assert {'project-é', 'with space', 'x' * 255} <= {m['member_id'] for m in members}


ODD_PATH_IDS = ['%s%%0A' % uuid.uuid4(), '%0A', '%s%%00' % uuid.uuid4(), '%00',
                '%s%%0D%%0A' % uuid.uuid4(), '%ED%A0%80', '%FF', '%C0%80', '%7F',
                'x' * 3000, '%2E%2E']     # (longer request lines: gunicorn's own 414)


@pytest.mark.parametrize('image_id', ODD_PATH_IDS)
def test_odd_image_id_in_the_path_is_404(client, image, image_id):
    before = state(client, image['id'])
    for method, suffix, kwargs in [
            ('GET', '', {}), ('DELETE', '', {}),
            ('PATCH', '', {'json': [{'op': 'replace', 'path': '/name', 'value': 'x'}],
                           'headers': {'Content-Type': PATCH}}),
            ('GET', '/file', {}), ('PUT', '/tags/t', {}), ('GET', '/members', {}),
            ('POST', '/members', {'json': {'member': 'm'}})]:
        resp = client.request(method, '/v2/images/' + image_id + suffix, **kwargs)
        assert_error(resp, 404)
    assert state(client, image['id']) == before


@pytest.mark.parametrize('member', ODD_PATH_IDS)
def test_odd_member_id_in_the_path_is_404(client, image, member):
    _share(client, image['id'], 'someone')
    before = state(client, image['id'])
    url = '/v2/images/%s/members/%s' % (image['id'], member)
    assert_error(client.get(url), 404)
    assert_error(client.put(url, json={'status': 'accepted'}), 404)
    assert_error(client.delete(url), 404)
    assert state(client, image['id']) == before


# -- item 6: chunked JSON bodies ------------------------------------------------------
def chunked(data: bytes, size: int = 7):
    """A generator body: requests sends it with Transfer-Encoding: chunked."""
    return (data[i:i + size] for i in range(0, len(data), size))


def test_chunked_create_and_patch(client):
    body = json.dumps({'name': 'chunked', 'visibility': 'shared', 'os_distro': 'c',
                       'disk_format': 'raw', 'container_format': 'bare'}).encode()
    resp = client.post('/v2/images', data=chunked(body),
                       headers={'Content-Type': 'application/json'})
    assert resp.status_code == 201, resp.text
    assert resp.request.headers.get('Transfer-Encoding') == 'chunked'
    image_id = resp.json()['id']
    ops = json.dumps([{'op': 'replace', 'path': '/name', 'value': 'patched'}]).encode()
    resp = client.patch('/v2/images/' + image_id, data=chunked(ops),
                        headers={'Content-Type': PATCH})
    assert resp.status_code == 200 and resp.json()['name'] == 'patched', resp.text
    assert client.get('/v2/images/' + image_id).json()['name'] == 'patched'


def test_chunked_member_create_and_update(client, image, as_project):
    url = '/v2/images/%s/members' % image['id']
    resp = client.post(url, data=chunked(b'{"member": "chunky"}'),
                       headers={'Content-Type': 'application/json'})
    assert resp.status_code == 200 and resp.json()['member_id'] == 'chunky', resp.text
    member = as_project('chunky')
    member.headers['Accept'] = 'application/json'
    resp = member.put(url + '/chunky', data=chunked(b'{"status": "accepted"}'),
                      headers={'Content-Type': 'application/json'})
    assert resp.status_code == 200 and resp.json()['status'] == 'accepted', resp.text
    assert client.get(url + '/chunky').json()['status'] == 'accepted'


def test_chunked_body_over_the_limit_is_413(client, image):
    before = state(client, image['id'])
    body = json.dumps({'name': 'big', 'description': 'x' * MAX_JSON_BODY}).encode()
    resp = client.post('/v2/images', data=chunked(body, 65536),
                       headers={'Content-Type': 'application/json'})
    assert_error(resp, 413)
    assert state(client, image['id']) == before


def test_chunked_body_at_the_limit_is_read_whole(client):
    """Leading white space: a body cut short would end inside the JSON."""
    doc = json.dumps({'name': 'at-limit'}).encode()
    body = b' ' * (MAX_JSON_BODY - len(doc)) + doc
    resp = client.post('/v2/images', data=chunked(body, 65536),
                       headers={'Content-Type': 'application/json'})
    assert resp.status_code == 201 and resp.json()['name'] == 'at-limit', resp.text


def test_empty_chunked_body_is_400(client, image):
    before = state(client, image['id'])
    resp = client.post('/v2/images', data=chunked(b''),
                       headers={'Content-Type': 'application/json'})
    assert_error(resp, 400, 'Body expected in request.')
    assert state(client, image['id']) == before


# -- found by the fuzzer (tests/fuzz) -------------------------------------------------
def test_usage_with_stored_data_is_a_number(client, with_data):
    """SUM over the size column is a Decimal on MariaDB and PostgreSQL: was a 500."""
    resp = client.get('/v2/info/usage')
    assert resp.status_code == 200, resp.text
    size = resp.json()['usage']['image_size_total']
    assert size['usage'] == 0 and size['limit'] == -1   # 10 bytes: 0 MiB, as Glance
