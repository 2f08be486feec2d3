"""Client mistakes and how Glance answers them: status codes and error bodies.

Upstream reference: glance/api/v2/images.py (RequestDeserializer, ImagesController) and
webob's error rendering. No request in this module may ever get a 5xx.
"""
import html
import json
import uuid

import pytest

from tests.service.http_checks import PATCH, PATCH_D4, patch

JSON = {'Content-Type': 'application/json'}
READ_ONLY = ('id', 'status', 'checksum', 'size', 'virtual_size', 'os_hash_algo',
             'os_hash_value', 'created_at', 'updated_at', 'self', 'file', 'schema',
             'direct_url')
# POST refuses these (403) while accepting 'id'.
READ_ONLY_ON_CREATE = tuple(a for a in READ_ONLY if a != 'id')
READ_ONLY_VALUES = {'status': 'active', 'checksum': 'a' * 32, 'size': 1, 'virtual_size': 1,
                    'os_hash_algo': 'sha512', 'os_hash_value': 'b' * 128,
                    'created_at': '2020-01-01T00:00:00Z',
                    'updated_at': '2020-01-01T00:00:00Z', 'self': '/v2/images/x',
                    'file': '/v2/images/x/file', 'schema': '/v2/schemas/image',
                    'direct_url': 'file:///tmp/x', 'id': str(uuid.uuid4())}
RESERVED = ('location', 'deleted', 'deleted_at', 'os_glance_import_task',
            'os_glance_anything')


@pytest.fixture
def image(api):
    return api.create(name='errors', os_distro='cirros')


# -- request bodies ---------------------------------------------------------------
@pytest.mark.parametrize('body', [b'{"name": ', b'not json', b'{"name": "x"}}',
                                  b'\xff\xfe\x00'])
def test_create_with_malformed_json_is_400(api, body):
    resp = api.post('/v2/images', data=body, headers=JSON)
    assert resp.status_code == 400, resp.text


@pytest.mark.parametrize('body', ['[]', '[{"name": "x"}]', '"image"', '42', 'null', 'true'])
def test_create_with_non_object_body_is_400(api, body):
    resp = api.post('/v2/images', data=body, headers=JSON)
    assert resp.status_code == 400, resp.text


@pytest.mark.parametrize('body', [b'[' * 200_000, b'{"a":' * 100_000])
def test_deeply_nested_json_is_400(api, image, body):
    assert api.post('/v2/images', data=body, headers=JSON).status_code == 400
    resp = api.patch('/v2/images/' + image['id'], data=body, headers={'Content-Type': PATCH})
    assert resp.status_code == 400


@pytest.mark.parametrize('body', [b'', b'   '])
def test_create_with_empty_body_is_400(api, body):
    resp = api.post('/v2/images', data=body, headers=JSON)
    assert resp.status_code == 400, resp.text


def test_patch_with_empty_or_malformed_body_is_400(api, image):
    url = '/v2/images/' + image['id']
    for body in (b'', b'[{"op": "add"', b'nope'):
        resp = api.patch(url, data=body, headers={'Content-Type': PATCH})
        assert resp.status_code == 400, (body, resp.text)


@pytest.mark.parametrize('body', [{'op': 'replace', 'path': '/name', 'value': 'x'}, 'x', 7])
def test_patch_body_that_is_not_a_list_is_400(api, image, body):
    resp = patch(api, image['id'], body)
    assert resp.status_code == 400, resp.text


def test_patch_operations_must_be_objects(api, image):
    resp = patch(api, image['id'], ['replace', '/name'])
    assert resp.status_code == 400, resp.text


@pytest.mark.parametrize('content_type', [None, 'application/json', 'text/plain',
                                          'application/json-patch+json'])
def test_patch_with_unknown_content_type_is_415_with_accept_patch(api, image,
                                                                   content_type):
    headers = {'Content-Type': content_type} if content_type else {}
    data = json.dumps([{'op': 'replace', 'path': '/name', 'value': 'x'}])
    resp = api.patch('/v2/images/' + image['id'], data=data, headers=headers)
    assert resp.status_code == 415, resp.text
    assert resp.headers['Accept-Patch'] == ', '.join(sorted([PATCH, PATCH_D4]))
    assert api.get('/v2/images/' + image['id']).json()['name'] == 'errors'


def test_patch_both_drafts_work(api, image):
    resp = patch(api, image['id'], [{'replace': '/name', 'value': 'draft4'}], PATCH_D4)
    assert resp.status_code == 200, resp.text
    assert resp.json()['name'] == 'draft4'
    resp = patch(api, image['id'], [{'op': 'replace', 'path': '/name', 'value': 'draft10'}])
    assert resp.status_code == 200, resp.text
    assert resp.json()['name'] == 'draft10'


# -- JSON-patch operations --------------------------------------------------------
@pytest.mark.parametrize('op', [
    {'op': 'move', 'path': '/name', 'value': 'x'},
    {'op': 'copy', 'path': '/name', 'value': 'x'},
    {'op': 'test', 'path': '/name', 'value': 'x'},
    {'op': None, 'path': '/name', 'value': 'x'},
    {'path': '/name', 'value': 'x'},                       # no op at all
    {'op': 'replace', 'value': 'x'},                       # no path
    {'op': 'replace', 'path': '/name'},                    # no value
    {'op': 'add', 'path': '/os_distro'},                   # no value
    {'op': 'replace', 'path': 'name', 'value': 'x'},       # no leading slash
    {'op': 'replace', 'path': '', 'value': 'x'},
    {'op': 'replace', 'path': '//name', 'value': 'x'},     # adjacent slashes
    {'op': 'replace', 'path': '/name/', 'value': 'x'},     # trailing slash
    {'op': 'replace', 'path': '/name/first', 'value': 'x'},  # too deep
    {'op': 'replace', 'path': '/na~2me', 'value': 'x'},    # bad escape
    {'op': 'replace', 'path': '/name~', 'value': 'x'},
    {'op': 'replace', 'path': 7, 'value': 'x'},            # pointer not a string
    {'op': 'replace', 'path': None, 'value': 'x'},
])
def test_bad_patch_operation_is_400(api, image, op):
    resp = patch(api, image['id'], [op])
    assert resp.status_code == 400, resp.text
    assert api.get('/v2/images/' + image['id']).json()['name'] == 'errors'


@pytest.mark.parametrize('op', [
    {'value': 'x'},                                        # no operation member
    {'replace': '/name', 'add': '/name', 'value': 'x'},    # two operation members
    {'replace': '/name'},                                  # no value
    {'replace': 'name', 'value': 'x'},
])
def test_bad_draft4_operation_is_400(api, image, op):
    resp = patch(api, image['id'], [op], PATCH_D4)
    assert resp.status_code == 400, resp.text


def test_draft4_add_of_an_existing_attribute_is_409(api, image):
    """Glance: with the v2.0 (draft 4) patch, "add" may not overwrite ("already present")."""
    url = '/v2/images/' + image['id']
    resp = patch(api, image['id'], [{'add': '/color', 'value': 'red'}], PATCH_D4)
    assert resp.status_code == 200 and resp.json()['color'] == 'red'
    for change in ([{'add': '/color', 'value': 'blue'}], [{'add': '/os_distro', 'value': 'x'}],
                   [{'add': '/name', 'value': 'x'}], [{'add': '/min_ram', 'value': 1}],
                   [{'add': '/tags', 'value': ['t']}],
                   [{'add': '/fresh', 'value': '1'}, {'add': '/fresh', 'value': '2'}]):
        resp = patch(api, image['id'], change, PATCH_D4)
        assert resp.status_code == 409, (change, resp.text)
    after = api.get(url).json()
    assert after['color'] == 'red' and after['name'] == 'errors' and 'fresh' not in after
    resp = patch(api, image['id'], [{'replace': '/color', 'value': 'blue'}], PATCH_D4)
    assert resp.status_code == 200 and resp.json()['color'] == 'blue'


def test_escaped_pointer_names_a_property(api, image):
    resp = patch(api, image['id'], [{'op': 'add', 'path': '/a~1b~0c', 'value': 'v'}])
    assert resp.status_code == 200, resp.text
    assert resp.json()['a/b~c'] == 'v'


def test_failed_operation_applies_nothing(api, image):
    resp = patch(api, image['id'], [
        {'op': 'replace', 'path': '/name', 'value': 'changed'},
        {'op': 'replace', 'path': '/status', 'value': 'active'}])
    assert resp.status_code == 403, resp.text
    resp = patch(api, image['id'], [
        {'op': 'replace', 'path': '/name', 'value': 'changed'},
        {'op': 'remove', 'path': '/no_such_property'}])
    assert resp.status_code == 409, resp.text
    assert api.get('/v2/images/' + image['id']).json()['name'] == 'errors'


# -- read-only and reserved attributes --------------------------------------------
@pytest.mark.parametrize('attribute', READ_ONLY)
@pytest.mark.parametrize('op', ['add', 'replace', 'remove'])
def test_patching_read_only_attribute_is_403(api, image, attribute, op):
    change = {'op': op, 'path': '/' + attribute}
    if op != 'remove':
        change['value'] = READ_ONLY_VALUES[attribute]
    resp = patch(api, image['id'], [change])
    assert resp.status_code == 403, resp.text
    assert "Attribute '%s' is read-only." % attribute in html.unescape(resp.text)
    after = api.get('/v2/images/' + image['id']).json()
    assert after['status'] == 'queued' and after['id'] == image['id']


@pytest.mark.parametrize('attribute', READ_ONLY_ON_CREATE)
def test_creating_with_read_only_attribute_is_403(api, attribute):
    name = 'ro-' + uuid.uuid4().hex
    resp = api.post('/v2/images', json={'name': name, 'disk_format': 'raw',
                                        'container_format': 'bare',
                                        attribute: READ_ONLY_VALUES[attribute]})
    assert resp.status_code == 403, resp.text
    assert api.get('/v2/images', params={'name': name}).json()['images'] == []


@pytest.mark.parametrize('attribute', ['locations', 'stores'])
def test_creating_with_locations_or_stores_is_403(api, attribute):
    value = [] if attribute == 'locations' else 'file'
    resp = api.post('/v2/images', json={'name': 'x', attribute: value})
    assert resp.status_code == 403, resp.text


def test_create_with_given_id(api):
    image_id = str(uuid.uuid4())
    created = api.create(id=image_id, name='given-id')
    assert created['id'] == image_id
    assert api.get('/v2/images/' + image_id).json()['name'] == 'given-id'

    again = api.post('/v2/images', json={'id': image_id, 'name': 'again'})
    assert again.status_code == 409, again.text

    assert api.delete('/v2/images/' + image_id).status_code == 204
    reused = api.post('/v2/images', json={'id': image_id, 'name': 'reused'})
    assert reused.status_code == 409, reused.text
    assert api.get('/v2/images/' + image_id).status_code == 404


@pytest.mark.parametrize('image_id', ['not-a-uuid', '12345', 'x' * 36, 7])
def test_create_with_malformed_id_is_400(api, image_id):
    resp = api.post('/v2/images', json={'id': image_id, 'name': 'bad-id'})
    assert resp.status_code == 400, resp.text


@pytest.mark.parametrize('attribute', RESERVED)
def test_reserved_attribute_is_403(api, image, attribute):
    resp = api.post('/v2/images', json={'name': 'reserved', attribute: 'x'})
    assert resp.status_code == 403, resp.text
    assert "Attribute '%s' is reserved." % attribute in html.unescape(resp.text)
    for op in ('add', 'replace', 'remove'):
        change = {'op': op, 'path': '/' + attribute}
        if op != 'remove':
            change['value'] = 'x'
        resp = patch(api, image['id'], [change])
        assert resp.status_code == 403, (op, resp.text)
        assert "Attribute '%s' is reserved." % attribute in html.unescape(resp.text)


def test_patching_locations_without_location_api_is_refused(api, image):
    # Glance answers 400/403/409 depending on show_multiple_locations; never success.
    resp = patch(api, image['id'], [{'op': 'add', 'path': '/locations/-',
                                     'value': {'url': 'http://example.com/x',
                                               'metadata': {}}}])
    assert 400 <= resp.status_code < 500, resp.text


# -- custom and core properties ---------------------------------------------------
@pytest.mark.parametrize('op', ['replace', 'remove'])
def test_replace_or_remove_missing_custom_property_is_409(api, image, op):
    change = {'op': op, 'path': '/no_such_property'}
    if op == 'replace':
        change['value'] = 'x'
    resp = patch(api, image['id'], [change])
    assert resp.status_code == 409, resp.text
    assert 'no_such_property' not in api.get('/v2/images/' + image['id']).json()


def test_custom_property_life_cycle(api, image):
    url = '/v2/images/' + image['id']
    resp = patch(api, image['id'], [{'op': 'add', 'path': '/color', 'value': 'red'}])
    assert resp.status_code == 200 and resp.json()['color'] == 'red'
    # add of an existing property replaces it (JSON patch semantics)
    resp = patch(api, image['id'], [{'op': 'add', 'path': '/color', 'value': 'blue'}])
    assert resp.status_code == 200 and resp.json()['color'] == 'blue'
    resp = patch(api, image['id'], [{'op': 'replace', 'path': '/color', 'value': 'green'}])
    assert resp.status_code == 200 and resp.json()['color'] == 'green'
    resp = patch(api, image['id'], [{'op': 'remove', 'path': '/color'}])
    assert resp.status_code == 200 and 'color' not in resp.json()
    assert 'color' not in api.get(url).json()
    resp = patch(api, image['id'], [{'op': 'remove', 'path': '/color'}])
    assert resp.status_code == 409, resp.text


@pytest.mark.parametrize('attribute', ['name', 'disk_format', 'container_format',
                                       'visibility', 'protected', 'min_ram', 'min_disk',
                                       'owner', 'os_hidden'])
def test_removing_core_attribute_is_403(api, image, attribute):
    resp = patch(api, image['id'], [{'op': 'remove', 'path': '/' + attribute}])
    assert resp.status_code == 403, resp.text
    assert api.get('/v2/images/' + image['id']).json()[attribute] == image[attribute]


@pytest.mark.parametrize('attribute, value', [
    ('disk_format', 'floppy'), ('disk_format', 7), ('container_format', 'zip'),
    ('visibility', 'everyone'), ('visibility', None), ('protected', 'yes'),
    ('os_hidden', 'no'), ('min_ram', 'lots'), ('min_disk', 1.5), ('name', 'n' * 256),
    ('name', 42), ('tags', 'not-a-list'), ('tags', ['t' * 256]), ('tags', [1]),
    ('color', 42), ('color', ['red']), ('color', {'r': 1}), ('color', True),
    ('kernel_id', 'not-a-uuid'),
])
def test_wrong_value_is_400(api, image, attribute, value):
    resp = api.post('/v2/images', json={'name': 'bad', attribute: value}
                    if attribute != 'name' else {attribute: value})
    assert resp.status_code == 400, resp.text
    op = 'add' if attribute in ('color', 'kernel_id') else 'replace'
    resp = patch(api, image['id'], [{'op': op, 'path': '/' + attribute, 'value': value}])
    assert resp.status_code == 400, resp.text
    assert api.get('/v2/images/' + image['id']).json() == image


def test_custom_property_name_longer_than_255_is_400(api):
    resp = api.post('/v2/images', json={'name': 'long-key', 'k' * 256: 'v'})
    assert resp.status_code == 400, resp.text


def test_null_name_and_255_character_name_are_fine(api, image):
    resp = patch(api, image['id'], [{'op': 'replace', 'path': '/name', 'value': 'n' * 255}])
    assert resp.status_code == 200 and resp.json()['name'] == 'n' * 255
    resp = patch(api, image['id'], [{'op': 'replace', 'path': '/name', 'value': None}])
    assert resp.status_code == 200 and resp.json()['name'] is None


def test_non_ascii_values_round_trip(api):
    name, key, value, tag = 'naïve 💥 日本', 'prop_é', 'välue 💥', 'tåg💥'
    image = api.create(name=name, tags=[tag], **{key: value})
    shown = api.get('/v2/images/' + image['id']).json()
    assert (shown['name'], shown[key], shown['tags']) == (name, value, [tag])
    listed = api.get('/v2/images', params={'name': name, key: value}).json()['images']
    assert [i['id'] for i in listed] == [image['id']]
    resp = api.put('/v2/images/%s/tags/%s' % (image['id'], 'ünï'))
    assert resp.status_code == 204
    assert 'ünï' in api.get('/v2/images/' + image['id']).json()['tags']


@pytest.mark.parametrize('body', [
    {'name': 'a\x00b'}, {'name': 'nul', 'nul_value': 'a\x00b'}, {'name': 'nul', 'k\x00': 'v'},
    {'name': 'nul', 'tags': ['a\x00b']}, {'name': 'long', 'long_value': 'x' * 70_000},
])
def test_values_a_database_cannot_hold_are_refused_never_mangled(api, body):
    """NUL (PostgreSQL) or a value too long for a column (MySQL): 400, not 500; what is
    accepted comes back exactly."""
    resp = api.post('/v2/images', json=body)
    assert resp.status_code in (201, 400), resp.text
    if resp.status_code == 201:
        shown = api.get('/v2/images/' + resp.json()['id']).json()
        for key, value in body.items():
            assert shown[key] == value


@pytest.mark.parametrize('value', ['a%00b', '%00'])
def test_nul_in_query_member_or_tag_is_never_a_server_error(api, image, value):
    for params in ({'name': value}, {'os_distro': value}, {'tag': value},
                   {'marker': value}, {'name': 'in:' + value}):
        url = '/v2/images?' + '&'.join('%s=%s' % kv for kv in params.items())
        assert api.get(url).status_code in (200, 400), params
    url = '/v2/images/%s/members/%s' % (image['id'], value)
    assert api.get(url).status_code in (400, 404)
    assert api.delete(url).status_code in (400, 404)
    assert api.put('/v2/images/%s/tags/%s' % (image['id'], value)).status_code in (204, 400)
    assert api.delete('/v2/images/%s/tags/%s' % (image['id'], value)).status_code in (
        204, 400, 404)


def test_formats_are_fixed_once_the_image_has_data(api, image):
    assert api.upload(image['id'], b'data').status_code == 204
    resp = patch(api, image['id'], [{'op': 'replace', 'path': '/disk_format',
                                     'value': 'qcow2'}])
    assert resp.status_code == 403, resp.text


# -- image ids and routes ---------------------------------------------------------
BAD_IDS = ['not-a-uuid', '12345', 'x' * 37, 'x' * 300, str(uuid.uuid4()) + 'ab',
           str(uuid.uuid4()).upper().replace('-', ''), '%C3%A9t%C3%A9', '%00', 'a%00b',
           '%F0%9F%92%A5']


def _image_routes(image_id):
    member = '/v2/images/%s/members' % image_id
    return [
        ('GET', '/v2/images/%s' % image_id, {}),
        ('PATCH', '/v2/images/%s' % image_id,
         {'json': [{'op': 'replace', 'path': '/name', 'value': 'x'}],
          'headers': {'Content-Type': PATCH}}),
        ('DELETE', '/v2/images/%s' % image_id, {}),
        ('GET', '/v2/images/%s/file' % image_id, {}),
        ('PUT', '/v2/images/%s/file' % image_id,
         {'data': b'abc', 'headers': {'Content-Type': 'application/octet-stream'}}),
        ('PUT', '/v2/images/%s/tags/t1' % image_id, {}),
        ('DELETE', '/v2/images/%s/tags/t1' % image_id, {}),
        ('POST', '/v2/images/%s/actions/deactivate' % image_id, {}),
        ('POST', '/v2/images/%s/actions/reactivate' % image_id, {}),
        ('GET', member, {}),
        ('POST', member, {'json': {'member': 'someone'}}),
        ('GET', member + '/someone', {}),
        ('PUT', member + '/someone', {'json': {'status': 'accepted'}}),
        ('DELETE', member + '/someone', {}),
    ]


@pytest.mark.parametrize('image_id', BAD_IDS)
def test_non_uuid_image_id_is_404_on_every_route(api, image_id):
    for method, url, kwargs in _image_routes(image_id):
        resp = api.request(method, url, **kwargs)
        assert resp.status_code == 404, (method, url, resp.status_code, resp.text)


def test_unknown_image_is_404_on_every_route(api):
    for method, url, kwargs in _image_routes(str(uuid.uuid4())):
        resp = api.request(method, url, **kwargs)
        assert resp.status_code == 404, (method, url, resp.status_code, resp.text)


def test_deleted_image_is_404_on_every_route(api, image):
    assert api.delete('/v2/images/' + image['id']).status_code == 204
    for method, url, kwargs in _image_routes(image['id']):
        resp = api.request(method, url, **kwargs)
        assert resp.status_code == 404, (method, url, resp.status_code, resp.text)


@pytest.mark.parametrize('url', ['/v2/nothing', '/v2/images/%s/nothing' % uuid.uuid4(),
                                 '/v2/images/%s/file/x' % uuid.uuid4(),
                                 '/v2/schemas/nothing', '/v2/images/%s/actions/explode'
                                 % uuid.uuid4()])
def test_unknown_route_is_404(api, url):
    assert api.get(url).status_code == 404
    assert api.post(url, json={}).status_code == 404


@pytest.mark.parametrize('method, url', [
    ('PUT', '/v2/images'), ('DELETE', '/v2/images'), ('PATCH', '/v2/images'),
    ('POST', '/v2/images/{id}'), ('PUT', '/v2/images/{id}'),
    ('POST', '/v2/images/{id}/file'), ('DELETE', '/v2/images/{id}/file'),
    ('PATCH', '/v2/images/{id}/file'), ('GET', '/v2/images/{id}/tags/t'),
    ('POST', '/v2/images/{id}/tags/t'), ('GET', '/v2/images/{id}/actions/deactivate'),
    ('PUT', '/v2/images/{id}/members'), ('POST', '/v2/images/{id}/members/m'),
    ('POST', '/v2/schemas/image'),
])
def test_wrong_method_is_405(api, image, method, url):
    resp = api.request(method, url.format(id=image['id']))
    assert resp.status_code == 405, resp.text
    assert method not in resp.headers['Allow']


# -- error bodies -----------------------------------------------------------------
def test_error_body_is_json_when_asked_for(api):
    image_id = str(uuid.uuid4())
    resp = api.get('/v2/images/' + image_id, headers={'Accept': 'application/json'})
    assert resp.status_code == 404
    assert resp.headers['Content-Type'].startswith('application/json')
    body = resp.json()
    assert set(body) == {'message', 'code', 'title'}
    assert body['code'] == '404 Not Found' and body['title'] == 'Not Found'
    assert image_id in body['message']

    resp = api.post('/v2/images', data=b'{', headers={'Accept': 'application/json',
                                                       **JSON})
    assert resp.status_code == 400
    assert resp.json()['code'] == '400 Bad Request'
    assert resp.json()['title'] == 'Bad Request'


def test_error_body_is_html_without_accept(api):
    """python-glanceclient sends no Accept and parses webob's HTML page."""
    image_id = str(uuid.uuid4())
    resp = api.get('/v2/images/' + image_id, headers={'Accept': None})
    assert resp.status_code == 404
    assert resp.headers['Content-Type'].startswith('text/html')
    assert '<title>404 Not Found</title>' in resp.text
    assert '<h1>404 Not Found</h1>' in resp.text
    assert image_id in resp.text

    resp = api.get('/v2/images/' + image_id, headers={'Accept': '*/*'})
    assert resp.headers['Content-Type'].startswith('text/html')


def test_html_error_body_escapes_the_message(api):
    resp = api.post('/v2/images', json={'name': 'x', 'os_glance_<i>': 'y'},
                    headers={'Accept': 'text/html'})
    assert resp.status_code == 403
    assert '&lt;i&gt;' in resp.text and '<i>' not in resp.text


def test_error_body_for_415_and_405(api, image):
    resp = api.patch('/v2/images/' + image['id'], data='[]',
                     headers={'Content-Type': 'application/json',
                              'Accept': 'application/json'})
    assert resp.status_code == 415
    assert resp.json()['code'] == '415 Unsupported Media Type'
    resp = api.put('/v2/images', headers={'Accept': 'application/json'})
    assert resp.status_code == 405
    assert resp.json()['code'] == '405 Method Not Allowed'
