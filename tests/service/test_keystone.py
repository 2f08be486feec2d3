"""The keystone flavor against a real Keystone: tokens, projects, roles, real clients.

Keystone is started by tests/infra/keystone.sh; the test registers the image service in
its catalog at this run's glance-api URL, so clients find Glint the way they find Glance.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import openstack
import pytest
import requests

from tests.infra import keystone
from tests.service.server import GlintServer

BIN = Path(sys.executable).parent
CLOUDS = keystone.CLOUDS_YAML


def _register_image_endpoint(url: str) -> None:
    admin = openstack.connect(cloud='glint-admin')
    service = admin.identity.find_service('glance') or admin.identity.create_service(
        name='glance', type='image', description='Glint image service')
    for endpoint in admin.identity.endpoints(service_id=service.id):
        admin.identity.delete_endpoint(endpoint)
    for interface in ('public', 'internal', 'admin'):
        admin.identity.create_endpoint(service_id=service.id, interface=interface,
                                       url=url, region_id=keystone.REGION)


@pytest.fixture(scope='module')
def glint(monkeypatch_module):
    keystone.ensure_running()
    monkeypatch_module.setenv('OS_CLIENT_CONFIG_FILE', str(CLOUDS))
    server = GlintServer(flavor='keystone', overrides={
        'keystone_authtoken': keystone.authtoken_options()}).start()
    _register_image_endpoint(server.url)
    yield server
    server.cleanup()


@pytest.fixture(scope='module')
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def session_for(user: str) -> tuple[requests.Session, str]:
    password, project, _ = keystone.USERS[user]
    token, project_id = keystone.get_token(user, password, project)
    session = requests.Session()
    session.headers['X-Auth-Token'] = token
    return session, project_id


def test_requests_without_a_valid_token_are_refused(glint):
    assert requests.get(glint.url + '/v2/images').status_code == 401
    bad = requests.get(glint.url + '/v2/images', headers={'X-Auth-Token': 'nope'})
    assert bad.status_code == 401
    assert requests.get(glint.url + '/').status_code == 300      # version discovery
    assert requests.get(glint.url + '/healthcheck').status_code == 200


def test_project_scoped_ownership_and_roles(glint):
    member, alpha_id = session_for('alpha-member')
    reader, _ = session_for('alpha-reader')
    other, _ = session_for('beta-member')
    admin, _ = session_for('beta-admin')

    created = member.post(glint.url + '/v2/images', json={
        'name': 'ks-private', 'visibility': 'private', 'disk_format': 'raw',
        'container_format': 'bare'})
    assert created.status_code == 201, created.text
    image = created.json()
    assert image['owner'] == alpha_id
    path = glint.url + '/v2/images/' + image['id']
    assert member.put(path + '/file', data=b'x' * 1000,
                      headers={'Content-Type': 'application/octet-stream'}).status_code == 204

    assert reader.get(path).status_code == 200
    assert reader.patch(path, json=[{'op': 'replace', 'path': '/name', 'value': 'r'}],
                        headers={'Content-Type':
                                 'application/openstack-images-v2.1-json-patch'}
                        ).status_code == 403
    assert reader.get(path + '/file').status_code == 403     # download needs member
    assert other.get(path).status_code == 404
    assert image['id'] not in {i['id'] for i in
                               other.get(glint.url + '/v2/images').json()['images']}
    assert admin.get(path + '/file').content == b'x' * 1000
    assert member.delete(path).status_code == 204


def test_openstacksdk_through_the_catalog(glint, tmp_path):
    conn = openstack.connect(cloud='alpha-member')
    data = os.urandom(2 * 1024 * 1024)
    source = tmp_path / 'disk.raw'
    source.write_bytes(data)
    image = conn.image.create_image(name='ks-sdk', filename=str(source), disk_format='raw',
                                    container_format='bare', use_import=False, wait=True)
    try:
        assert conn.image.get_image(image.id).status == 'active'
        assert conn.image.download_image(image.id).content == data
        assert image.id in {i.id for i in conn.image.images(name='ks-sdk')}
        beta = openstack.connect(cloud='beta-member')
        with pytest.raises(openstack.exceptions.NotFoundException):
            beta.image.get_image(image.id)
    finally:
        conn.image.delete_image(image.id)


def test_openstack_cli_through_the_catalog(glint, tmp_path):
    source = tmp_path / 'disk.raw'
    source.write_bytes(os.urandom(100_000))
    env = dict(os.environ, OS_CLOUD='alpha-member', OS_CLIENT_CONFIG_FILE=str(CLOUDS))

    def osc(*args):
        done = subprocess.run([str(BIN / 'openstack'), *args], env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    image = json.loads(osc('image', 'create', '--file', str(source), '--disk-format', 'raw',
                           '--container-format', 'bare', '--property', 'k=v', '-f', 'json',
                           'ks-cli'))
    osc('image', 'save', '--file', str(tmp_path / 'out'), image['id'])
    assert (tmp_path / 'out').read_bytes() == source.read_bytes()
    osc('image', 'delete', image['id'])


# -- who can do what: real users with reader / member / admin in two projects -------------
VISIBILITIES = ('private', 'shared', 'public', 'community')
USERS = [f'{p}-{r}' for p in ('alpha', 'beta') for r in ('reader', 'member', 'admin')]


@pytest.fixture(scope='module')
def alpha_images(glint):
    """One alpha image per visibility, with data; the shared one accepted by beta."""
    owner, _ = session_for('alpha-member')
    publisher, _ = session_for('alpha-admin')      # only admins may publicize
    _, beta_id = session_for('beta-member')
    images = {}
    for visibility in VISIBILITIES:
        creator = publisher if visibility == 'public' else owner
        image = creator.post(glint.url + '/v2/images', json={
            'name': 'rbac-' + visibility, 'visibility': visibility,
            'disk_format': 'raw', 'container_format': 'bare'}).json()
        assert owner.put('%s/v2/images/%s/file' % (glint.url, image['id']), data=b'rbac',
                         headers={'Content-Type': 'application/octet-stream'}
                         ).status_code == 204
        images[visibility] = image['id']
    members = '%s/v2/images/%s/members' % (glint.url, images['shared'])
    assert owner.post(members, json={'member': beta_id}).status_code == 200
    beta, _ = session_for('beta-member')
    assert beta.put('%s/%s' % (members, beta_id), json={'status': 'accepted'}
                    ).status_code == 200
    return images


def expected(user: str, visibility: str) -> dict[str, object]:
    """Glance's secure-RBAC answer for ``user`` on an alpha image."""
    project, role = user.split('-')
    own, admin = project == 'alpha', role == 'admin'
    visible = own or admin or visibility != 'private'
    may_download = visible and role != 'reader'
    listed = (own or admin or visibility in ('shared', 'public')) and not (
        visibility == 'community' and not own)
    if not visible:
        members = 404
    elif visibility != 'shared':
        members = 403
    else:
        members = 200
    return {'show': 200 if visible else 404,
            'download': 200 if may_download else (403 if visible else 404),
            'listed': listed, 'members': members}


@pytest.mark.parametrize('user', USERS)
def test_who_sees_and_downloads_what(glint, alpha_images, user):
    session, _ = session_for(user)
    listed = {i['id'] for i in session.get(glint.url + '/v2/images',
                                          params={'limit': 1000}).json()['images']}
    for visibility, image_id in alpha_images.items():
        path = '%s/v2/images/%s' % (glint.url, image_id)
        actual = {'show': session.get(path).status_code,
                  'download': session.get(path + '/file').status_code,
                  'listed': image_id in listed,
                  'members': session.get(path + '/members').status_code}
        assert actual == expected(user, visibility), visibility


@pytest.mark.parametrize('user, code', [
    ('alpha-member', 200), ('alpha-admin', 200), ('beta-admin', 200),
    ('alpha-reader', 403), ('beta-member', 403), ('beta-reader', 403)])
def test_who_may_change_the_shared_image(glint, alpha_images, user, code):
    session, _ = session_for(user)
    resp = session.patch('%s/v2/images/%s' % (glint.url, alpha_images['shared']),
                         json=[{'op': 'replace', 'path': '/min_ram', 'value': 1}],
                         headers={'Content-Type':
                                  'application/openstack-images-v2.1-json-patch'})
    assert resp.status_code == code


def test_only_the_owner_shares_and_only_the_member_answers(glint, alpha_images):
    owner, _ = session_for('alpha-member')
    reader, _ = session_for('alpha-reader')
    beta, beta_id = session_for('beta-member')
    beta_reader, _ = session_for('beta-reader')
    members = '%s/v2/images/%s/members' % (glint.url, alpha_images['shared'])
    assert reader.post(members, json={'member': 'someone'}).status_code == 403
    assert beta.post(members, json={'member': 'someone'}).status_code == 403
    mine = '%s/%s' % (members, beta_id)
    assert owner.put(mine, json={'status': 'rejected'}).status_code == 403
    assert beta_reader.put(mine, json={'status': 'rejected'}).status_code == 403
    assert [m['member_id'] for m in beta.get(members).json()['members']] == [beta_id]
    private = '%s/v2/images/%s' % (glint.url, alpha_images['private'])
    assert beta.post(private + '/members', json={'member': beta_id}).status_code == 404


def scoped_session(user: str) -> requests.Session:
    session = requests.Session()
    session.headers['X-Auth-Token'] = keystone.get_scoped_token(user)
    return session


@pytest.mark.parametrize('user', keystone.SCOPED_USERS)
def test_domain_and_system_scoped_tokens_are_refused(glint, alpha_images, user):
    """Image APIs are project-scoped (Glance's scope_types): a token without a project
    can neither create an ownerless image nor read, change or delete others'."""
    session = scoped_session(user)
    images = glint.url + '/v2/images'
    created = session.post(images, json={'name': 'scoped', 'visibility': 'shared',
                                         'disk_format': 'raw', 'container_format': 'bare'})
    assert created.status_code == 403, created.text
    assert session.get(images).status_code == 403
    for visibility, image_id in alpha_images.items():
        path = '%s/%s' % (images, image_id)
        assert session.get(path).status_code in (403, 404), visibility
        assert session.get(path + '/file').status_code in (403, 404), visibility
        assert session.patch(path, json=[{'op': 'replace', 'path': '/min_ram', 'value': 2}],
                             headers={'Content-Type':
                                      'application/openstack-images-v2.1-json-patch'}
                             ).status_code in (403, 404), visibility
        assert session.delete(path).status_code in (403, 404), visibility
    admin, _ = session_for('alpha-admin')
    names = {i['name'] for i in admin.get(images, params={'limit': 1000}).json()['images']}
    assert 'scoped' not in names
    for image_id in alpha_images.values():
        image = admin.get('%s/%s' % (images, image_id)).json()
        assert image['status'] == 'active' and image['min_ram'] in (0, 1)
