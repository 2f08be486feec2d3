"""The planning and decision logic of the image modules (module_utils/glance.py)."""
import hashlib

import pytest
from ansible_collections.glint.glance.plugins.module_utils import glance as g
from ansible_collections.glint.glance.plugins.modules.glance_image_info import query

IMAGE = {
    'id': '0e5f0fa1-ff4f-4795-a122-a4003e642625', 'name': 'cirros', 'status': 'active',
    'visibility': 'shared', 'protected': False, 'os_hidden': False, 'owner': 'p1',
    'min_disk': 0, 'min_ram': 0, 'disk_format': 'qcow2', 'container_format': 'bare',
    'size': 11, 'checksum': hashlib.md5(b'hello world').hexdigest(),
    'os_hash_algo': 'sha512', 'os_hash_value': hashlib.sha512(b'hello world').hexdigest(),
    'tags': ['b', 'a'], 'created_at': 'x', 'updated_at': 'y', 'virtual_size': None,
    'self': '/v2/images/x', 'file': '/v2/images/x/file', 'schema': '/v2/schemas/image',
    'os_glance_importing_to_stores': '', 'kernel_id': 'k1',
    'hw_disk_bus': 'virtio', 'os_distro': 'cirros',
}


def plan(image=IMAGE, attributes=None, properties=None, tags=None,
         purge_properties=False, purge_tags=False):
    return g.plan_patch(image, attributes or {}, properties or {}, tags,
                        purge_properties, purge_tags)


# ------------------------------------------------------------------ connection

def test_no_auth_defaults_to_the_embedded_endpoint():
    kwargs = g.connection_kwargs({'auth_type': 'none', 'interface': 'public'})
    assert kwargs['auth'] == {'endpoint': g.EMBEDDED_ENDPOINT}
    assert kwargs['image_endpoint_override'] == g.EMBEDDED_ENDPOINT


def test_no_auth_takes_the_given_endpoint():
    kwargs = g.connection_kwargs({'auth_type': 'none', 'endpoint': 'http://h:1'})
    assert kwargs['auth'] == {'endpoint': 'http://h:1'}
    assert kwargs['image_endpoint_override'] == 'http://h:1'


def test_cloud_name_and_explicit_options():
    kwargs = g.connection_kwargs({'cloud': 'mycloud', 'region_name': 'R2',
                                  'validate_certs': False, 'interface': 'internal'})
    assert kwargs['cloud'] == 'mycloud'
    assert kwargs['region_name'] == 'R2'
    assert kwargs['verify'] is False
    assert kwargs['interface'] == 'internal'
    assert 'image_endpoint_override' not in kwargs and 'auth' not in kwargs


def test_cloud_dict_is_overridden_by_explicit_options():
    cloud = {'auth': {'auth_url': 'http://ks/v3'}, 'region_name': 'R1', 'auth_type': 'password'}
    kwargs = g.connection_kwargs({'cloud': cloud, 'region_name': 'R2'})
    assert kwargs['auth'] == {'auth_url': 'http://ks/v3'}
    assert kwargs['region_name'] == 'R2' and kwargs['auth_type'] == 'password'
    assert cloud['region_name'] == 'R1'  # the task's dict is not modified


# ------------------------------------------------------------------ properties

def test_custom_properties_leave_out_base_and_reserved_keys():
    assert g.custom_properties(IMAGE) == {
        'kernel_id': 'k1', 'hw_disk_bus': 'virtio', 'os_distro': 'cirros'}


@pytest.mark.parametrize('value, text', [
    (True, 'true'), (False, 'false'), (2, '2'), (1.5, '1.5'), ('x', 'x')])
def test_property_values_are_strings(value, text):
    assert g.property_value(value) == text


def test_misplaced_properties_are_attributes():
    assert g.misplaced_properties({'min_ram': 1, 'os_distro': 'x', 'visibility': 'p'}) == [
        'min_ram', 'visibility']
    assert g.misplaced_properties(None) == []


# ------------------------------------------------------------------ patch planning

def test_equal_metadata_plans_nothing():
    props = g.desired_properties({'properties': {'hw_disk_bus': 'virtio'}})
    attrs = g.desired_attributes({'name': 'cirros', 'visibility': 'shared',
                                  'hidden': False, 'min_ram': 0})
    assert plan(attributes=attrs, properties=props, tags=['a']) == []


def test_boolean_property_matches_its_string_form():
    image = dict(IMAGE, hw_qemu_guest_agent='true')
    props = g.desired_properties({'properties': {'hw_qemu_guest_agent': True}})
    assert plan(image, properties=props) == []


def test_changed_attributes_and_properties_in_order():
    attrs = g.desired_attributes({'visibility': 'public', 'hidden': True})
    ops = plan(attributes=attrs, properties={'hw_disk_bus': 'scsi', 'hw_rng_model': 'virtio'})
    assert ops == [
        {'op': 'replace', 'path': '/os_hidden', 'value': True},
        {'op': 'replace', 'path': '/visibility', 'value': 'public'},
        {'op': 'replace', 'path': '/hw_disk_bus', 'value': 'scsi'},
        {'op': 'add', 'path': '/hw_rng_model', 'value': 'virtio'},
    ]


def test_without_purge_other_properties_stay():
    assert plan(properties={'os_distro': 'cirros'}) == []


def test_purge_removes_unlisted_properties_but_not_kernel_id():
    ops = plan(properties={'os_distro': 'cirros'}, purge_properties=True)
    assert ops == [{'op': 'remove', 'path': '/hw_disk_bus'}]


def test_purge_never_touches_reserved_properties():
    ops = plan(properties={}, purge_properties=True)
    assert {'op': 'remove', 'path': '/os_glance_importing_to_stores'} not in ops


def test_tags_are_added_to_existing_ones_without_purge():
    assert plan(tags=['c']) == [{'op': 'replace', 'path': '/tags', 'value': ['a', 'b', 'c']}]
    assert plan(tags=['a']) == []


def test_purge_tags_sets_exactly_the_given_tags():
    assert plan(tags=['a'], purge_tags=True) == [
        {'op': 'replace', 'path': '/tags', 'value': ['a']}]
    assert plan(tags=[], purge_tags=True) == [{'op': 'replace', 'path': '/tags', 'value': []}]
    assert plan(tags=['b', 'a'], purge_tags=True) == []


def test_tags_not_given_are_left_alone_even_with_purge():
    assert plan(tags=None, purge_tags=True) == []


def test_applying_a_plan_reaches_a_fixed_point():
    attrs = {'min_ram': 512, 'protected': True}
    props = {'hw_disk_bus': 'scsi', 'new': 'x'}
    ops = plan(attributes=attrs, properties=props, tags=['z'], purge_properties=True,
               purge_tags=True)
    after = g.apply_patch(IMAGE, ops)
    assert after['min_ram'] == 512 and after['new'] == 'x' and 'os_distro' not in after
    assert after['tags'] == ['z'] and after['kernel_id'] == 'k1'
    assert plan(after, attributes=attrs, properties=props, tags=['z'],
                purge_properties=True, purge_tags=True) == []


def test_managed_view_sorts_tags_and_separates_properties():
    view = g.managed_view(IMAGE)
    assert view['tags'] == ['a', 'b']
    assert view['properties'] == g.custom_properties(IMAGE)
    assert view['os_hidden'] is False and view['os_hash_algo'] == 'sha512'
    assert 'created_at' not in view and 'hw_disk_bus' not in view
    assert g.managed_view(None) is None


def test_kernel_and_ramdisk_become_properties():
    assert g.desired_properties({'properties': None}, 'k', 'r') == {
        'kernel_id': 'k', 'ramdisk_id': 'r'}


# ------------------------------------------------------------------ creation

def test_creation_sends_only_what_the_task_sets():
    params = {'name': 'x', 'visibility': None, 'filename': None, 'url': None, 'id': None}
    body = g.creation_body(params, g.desired_attributes(params), {}, None)
    assert body == {'name': 'x'}  # no visibility: Glance's default applies


def test_creation_with_data_defaults_the_formats():
    params = {'name': 'x', 'filename': '/f', 'disk_format': 'raw', 'id': 'abc'}
    body = g.creation_body(params, g.desired_attributes(params), {'p': '1'}, ['t', 't'])
    assert body == {'name': 'x', 'disk_format': 'raw', 'container_format': 'bare',
                    'p': '1', 'tags': ['t'], 'id': 'abc'}


# ------------------------------------------------------------------ content

@pytest.fixture
def datafile(tmp_path):
    path = tmp_path / 'data'
    path.write_bytes(b'hello world')
    return str(path)


def test_file_digest_reads_in_chunks(datafile):
    assert g.file_digest(datafile, 'sha256', chunk=3) == hashlib.sha256(b'hello world').hexdigest()


def test_content_matches_by_multihash(datafile):
    assert g.content_matches(IMAGE, datafile, 11)
    other = dict(IMAGE, os_hash_value=hashlib.sha512(b'hello there').hexdigest())
    assert not g.content_matches(other, datafile, 11)


def test_a_different_size_decides_without_reading(tmp_path):
    assert not g.content_matches(IMAGE, str(tmp_path / 'missing'), 12)


def test_md5_checksum_when_the_image_has_no_multihash(datafile):
    legacy = dict(IMAGE, os_hash_algo=None, os_hash_value=None)
    assert g.image_digest(legacy) == ('md5', IMAGE['checksum'])
    assert g.content_matches(legacy, datafile, 11)
    assert not g.content_matches(dict(legacy, checksum='0' * 32), datafile, 11)


def test_md5_when_the_multihash_algorithm_is_unknown_here(datafile):
    odd = dict(IMAGE, os_hash_algo='no-such-hash', os_hash_value='zz')
    assert g.content_matches(odd, datafile, 11)


def test_an_image_without_data_never_matches(datafile):
    empty = dict(IMAGE, status='queued', size=None, checksum=None, os_hash_algo=None,
                 os_hash_value=None)
    assert not g.content_matches(empty, datafile, 11)


@pytest.mark.parametrize('status, has_file, matches, formats_differ, on_change, action', [
    ('queued', True, False, False, 'fail', 'upload'),
    ('queued', False, False, True, 'fail', 'none'),
    ('active', False, False, False, 'fail', 'none'),
    ('active', True, True, False, 'fail', 'none'),
    ('active', True, False, False, 'fail', 'fail'),
    ('active', True, False, False, 'keep', 'keep'),
    ('active', True, False, False, 'replace', 'replace'),
    ('deactivated', True, False, False, 'replace', 'replace'),
    ('active', True, True, True, 'replace', 'replace'),
    ('active', False, False, True, 'keep', 'keep'),
])
def test_content_action(status, has_file, matches, formats_differ, on_change, action):
    image = dict(IMAGE, status=status)
    assert g.content_action(image, has_file, matches, formats_differ, on_change) == action


# ------------------------------------------------------------------ members

@pytest.mark.parametrize('current, state, status, steps, after', [
    (None, 'present', None, ['add'], {'member': 'm', 'status': 'pending'}),
    (None, 'present', 'accepted', ['add', 'status'], {'member': 'm', 'status': 'accepted'}),
    ({'status': 'pending'}, 'present', None, [], {'member': 'm', 'status': 'pending'}),
    ({'status': 'pending'}, 'present', 'rejected', ['status'],
     {'member': 'm', 'status': 'rejected'}),
    ({'status': 'accepted'}, 'present', 'accepted', [], {'member': 'm', 'status': 'accepted'}),
    ({'status': 'accepted'}, 'absent', None, ['remove'], {}),
    (None, 'absent', None, [], {}),
])
def test_plan_membership(current, state, status, steps, after):
    assert g.plan_membership(current, 'm', state, status) == (steps, after)


# ------------------------------------------------------------------ API plumbing

@pytest.mark.parametrize('link, marker', [
    ('/v2/images?limit=2&marker=abc-1', 'abc-1'),
    ('/v2/images?marker=abc-2&limit=2', 'abc-2'),
    (None, None), ('/v2/images?limit=2', None)])
def test_next_marker(link, marker):
    assert g.next_marker(link) == marker


class _Response:
    def __init__(self, text, reason='Bad'):
        self.text, self.reason = text, reason


def test_error_message_from_webob_html_and_json():
    html = ('<html><body><h1>403 Forbidden</h1>\n  Attribute disk_format can be only '
            'replaced for a queued image.<br /><br />\n</body></html>')
    assert g.error_message(_Response(html)) == (
        'Attribute disk_format can be only replaced for a queued image.')
    body = '{"itemNotFound": {"message": "No image", "code": 404}}'
    assert g.error_message(_Response(body)) == 'No image'
    assert g.error_message(_Response('')) == 'Bad'


def test_info_filters_become_query_parameters():
    assert query({'os_hidden': True, 'tag': ['a', 'b'], 'size_min': 5}) == {
        'os_hidden': 'true', 'tag': ['a', 'b'], 'size_min': '5'}


class _Identity:
    """conn.identity.find_project as Keystone answers a caller."""

    def __init__(self, projects=None, error=None):
        self.projects, self.error = projects or {}, error

    def find_project(self, name_or_id, ignore_missing=True):
        if self.error:
            raise self.error
        project_id = self.projects.get(name_or_id)
        return type('Project', (), {'id': project_id}) if project_id else None


def _client(identity):
    return g.GlanceClient(None, type('Conn', (), {'identity': identity})())


def test_project_names_resolve_through_keystone():
    assert _client(_Identity({'beta': 'b' * 32})).project_id('beta') == 'b' * 32


def test_without_keystone_the_value_is_the_id():
    assert g.GlanceClient(None, None).project_id('anything') == 'anything'


def test_an_id_is_kept_when_the_caller_may_not_look_it_up():
    forbidden = _client(_Identity(error=RuntimeError('403 Forbidden')))
    assert forbidden.project_id('0123456789abcdef' * 2) == '0123456789abcdef' * 2
    with pytest.raises(g.GlanceError, match='give its ID'):
        forbidden.project_id('beta')


def test_an_unknown_project_fails():
    with pytest.raises(g.GlanceError, match='no project nope'):
        _client(_Identity({})).project_id('nope')
