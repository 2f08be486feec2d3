"""Per-image quotas (413) and property protections (roles and policies formats)."""
import pytest

from tests.service.conftest import Client
from tests.service.server import GlintServer

PATCH = {'Content-Type': 'application/openstack-images-v2.1-json-patch'}

ROLE_RULES = """
[^x_admin_.*]
create = admin
read = admin
update = admin
delete = admin

[^x_ro_.*]
create = admin
read = @
update = admin
delete = !

[.*]
create = @
read = @
update = @
delete = @
"""

POLICY_RULES = """
[^x_admin_.*]
create = glint_property_admin
read = glint_property_admin
update = glint_property_admin
delete = glint_property_admin

[.*]
create = glint_anyone
read = glint_anyone
update = glint_anyone
delete = glint_anyone
"""


def patch(client, image_id, *ops):
    return client.patch('/v2/images/' + image_id, json=list(ops), headers=PATCH)


@pytest.fixture(scope='module')
def limited():
    server = GlintServer(overrides={'DEFAULT': {
        'image_property_quota': 2, 'image_tag_quota': 2, 'image_member_quota': 1}}).start()
    yield Client(server.url)
    server.cleanup()


def test_property_quota(limited):
    resp = limited.post('/v2/images', json={'name': 'q', 'a': '1', 'b': '2', 'c': '3'})
    assert resp.status_code == 413
    assert 'Attempted: 3, Maximum: 2' in resp.text
    image = limited.create(name='q', a='1', b='2')
    assert patch(limited, image['id'], {'op': 'add', 'path': '/c', 'value': '3'}
                 ).status_code == 413
    replaced = patch(limited, image['id'], {'op': 'replace', 'path': '/a', 'value': 'x'},
                     {'op': 'remove', 'path': '/b'}, {'op': 'add', 'path': '/c', 'value': '3'})
    assert replaced.status_code == 200
    assert {k: replaced.json().get(k) for k in 'abc'} == {'a': 'x', 'b': None, 'c': '3'}


def test_tag_quota(limited):
    assert limited.post('/v2/images', json={'tags': ['1', '2', '3']}).status_code == 413
    image = limited.create(tags=['1', '2'])
    assert limited.put('/v2/images/%s/tags/3' % image['id']).status_code == 413
    assert limited.put('/v2/images/%s/tags/2' % image['id']).status_code == 204
    assert patch(limited, image['id'], {'op': 'replace', 'path': '/tags',
                                        'value': ['a', 'b', 'c']}).status_code == 413
    assert limited.get('/v2/images/' + image['id']).json()['tags'] == ['1', '2']


def test_member_quota(limited):
    image = limited.create(visibility='shared')
    members = '/v2/images/%s/members' % image['id']
    assert limited.post(members, json={'member': 'p1'}).status_code == 200
    resp = limited.post(members, json={'member': 'p2'})
    assert resp.status_code == 413
    assert [m['member_id'] for m in limited.get(members).json()['members']] == ['p1']


@pytest.fixture(scope='module')
def protected_by_roles(tmp_path_factory):
    rules = tmp_path_factory.mktemp('pp') / 'property-protections.conf'
    rules.write_text(ROLE_RULES)
    server = GlintServer(overrides={'DEFAULT': {'property_protection_file': rules}}).start()
    yield server
    server.cleanup()


def test_roles_format(protected_by_roles):
    admin = Client(protected_by_roles.url, 'p1', 'admin,member,reader')
    member = Client(protected_by_roles.url, 'p1', 'member,reader')
    assert member.post('/v2/images', json={'x_admin_key': 'v'}).status_code == 403
    image = admin.create(x_admin_key='secret', x_ro_kind='gold', plain='1')

    seen = member.get('/v2/images/' + image['id']).json()
    assert 'x_admin_key' not in seen and seen['x_ro_kind'] == 'gold'
    listed = member.get('/v2/images', params={'id': image['id']}).json()['images'][0]
    assert 'x_admin_key' not in listed

    assert patch(member, image['id'], {'op': 'replace', 'path': '/x_ro_kind',
                                       'value': 'tin'}).status_code == 403
    assert patch(admin, image['id'], {'op': 'remove', 'path': '/x_ro_kind'}
                 ).status_code == 403                      # delete = ! : no one
    assert patch(member, image['id'], {'op': 'remove', 'path': '/x_admin_key'}
                 ).status_code == 409                      # unreadable: does not exist
    changed = patch(member, image['id'], {'op': 'replace', 'path': '/plain', 'value': '2'})
    assert changed.status_code == 200 and 'x_admin_key' not in changed.json()
    assert admin.get('/v2/images/' + image['id']).json()['x_admin_key'] == 'secret'


@pytest.fixture(scope='module')
def protected_by_policies(tmp_path_factory):
    folder = tmp_path_factory.mktemp('pp')
    (folder / 'property-protections.conf').write_text(POLICY_RULES)
    (folder / 'policy.yaml').write_text('glint_property_admin: "role:admin"\n'
                                        'glint_anyone: ""\n')
    server = GlintServer(overrides={
        'DEFAULT': {'property_protection_file': folder / 'property-protections.conf',
                    'property_protection_rule_format': 'policies'},
        'oslo_policy': {'policy_file': folder / 'policy.yaml'}}).start()
    yield server
    server.cleanup()


def test_policies_format(protected_by_policies):
    admin = Client(protected_by_policies.url, 'p1', 'admin,member,reader')
    member = Client(protected_by_policies.url, 'p1', 'member,reader')
    assert member.post('/v2/images', json={'x_admin_key': 'v'}).status_code == 403
    image = admin.create(x_admin_key='secret', other='o')
    seen = member.get('/v2/images/' + image['id']).json()
    assert 'x_admin_key' not in seen and seen['other'] == 'o'
    assert admin.get('/v2/images/' + image['id']).json()['x_admin_key'] == 'secret'


def test_unreadable_protection_file_stops_the_server(tmp_path):
    server = GlintServer(overrides={'DEFAULT': {
        'property_protection_file': tmp_path / 'missing.conf'}})
    with pytest.raises(RuntimeError, match='not found'):
        server.start()
    server.cleanup()
