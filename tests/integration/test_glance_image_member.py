"""glance_image_member (and the modules' Keystone connection) against a Glint with
real Keystone authentication: project alpha shares an image with project beta, beta
accepts and rejects it, alpha stops sharing it.

alpha connects with `cloud: alpha-member` from the clouds.yaml Keystone's fixtures
write; beta with a `cloud` dict (auth_type password and its auth), both with the
image endpoint given as `endpoint`."""
import pytest
import requests

from tests.infra import keystone
from tests.integration.conftest import unique
from tests.service.server import GlintServer


@pytest.fixture(scope='module')
def glint_keystone():
    keystone.ensure_running()
    with GlintServer(flavor='keystone', overrides={
            'keystone_authtoken': keystone.authtoken_options()}) as server:
        yield server


def member_task(check=False, **args):
    task = {'glint.glance.glance_image_member': args}
    if check:
        task['check_mode'] = True
    return task


def test_share_accept_reject_unshare(ansible, glint_keystone):
    server = glint_keystone
    _, alpha_id = keystone.get_token('alpha-member', keystone.USER_PASSWORD, 'alpha')
    beta_token, beta_id = keystone.get_token('beta-member', keystone.USER_PASSWORD, 'beta')
    env = {'OS_CLIENT_CONFIG_FILE': str(keystone.CLOUDS_YAML)}
    alpha = {'cloud': 'alpha-member', 'endpoint': server.url}
    beta = {'cloud': {'auth_type': 'password', 'auth': {
        'auth_url': keystone.KEYSTONE_URL, 'username': 'beta-member',
        'password': keystone.USER_PASSWORD, 'project_name': 'beta',
        'user_domain_name': keystone.DOMAIN, 'project_domain_name': keystone.DOMAIN}},
        'endpoint': server.url}
    name = unique('shared')
    share = dict(image=name, member=beta_id)

    created, scheck, shared, shared2 = ansible.run([
        {'glint.glance.glance_image': {'name': name, 'visibility': 'shared'}},
        member_task(check=True, **share), member_task(**share), member_task(**share),
    ], connection=alpha, env=env)
    assert not created.get('failed'), created.get('msg')
    image_id = created['image']['id']
    assert created['image']['owner'] == alpha_id
    assert scheck['changed'] and scheck['member'] is None
    assert scheck['diff'] == {'before': {}, 'after': {'member': beta_id, 'status': 'pending'}}
    assert shared['changed'] and shared['member']['status'] == 'pending'
    assert shared['member']['member_id'] == beta_id and shared['image_id'] == image_id
    assert shared2['changed'] is False

    accept = dict(image=name, member=beta_id, status='accepted')
    reject = dict(accept, status='rejected')
    pending, acheck, accepted, accepted2, listed, rejected, owner_try = ansible.run([
        {'glint.glance.glance_image_info': {'filters': {'member_status': 'pending',
                                                        'visibility': 'shared'}}},
        member_task(check=True, **accept), member_task(**accept), member_task(**accept),
        {'glint.glance.glance_image_info': {'image': name}},
        member_task(**reject),
        member_task(image=image_id, member=beta_id, state='absent'),  # not the owner
    ], connection=beta, env=env)
    # beta sees the pending share, and finds the image by name to accept it.
    assert image_id in [i['id'] for i in pending['images']]
    assert acheck['changed'] and acheck['diff']['before']['status'] == 'pending'
    assert acheck['diff']['after']['status'] == 'accepted'
    assert accepted['changed'] and accepted['member']['status'] == 'accepted'
    assert accepted2['changed'] is False
    assert [i['id'] for i in listed['images']] == [image_id]
    assert rejected['changed'] and rejected['member']['status'] == 'rejected'
    assert owner_try['failed'] and '403' in owner_try['msg']

    # The API agrees, as beta sees it.
    response = requests.get('%s/v2/images/%s/members/%s' % (server.url, image_id, beta_id),
                            headers={'X-Auth-Token': beta_token}, timeout=30)
    assert response.json()['status'] == 'rejected'

    ucheck, unshared, unshared2 = ansible.run([
        member_task(check=True, state='absent', **share),
        member_task(state='absent', **share), member_task(state='absent', **share),
    ], connection=alpha, env=env)
    assert ucheck['changed'] and ucheck['diff']['after'] == {}
    assert ucheck['diff']['before'] == {'member': beta_id, 'status': 'rejected'}
    assert unshared['changed'] and unshared['member'] is None
    assert unshared2['changed'] is False
    response = requests.get('%s/v2/images/%s/members/%s' % (server.url, image_id, beta_id),
                            headers={'X-Auth-Token': beta_token}, timeout=30)
    assert response.status_code == 404


def test_project_names_resolve_through_keystone(ansible, glint_keystone):
    """The cloud admin may look projects up, so names work; a member may not, so a
    name fails clearly (never sent to Glance as if it were an ID)."""
    _, alpha_id = keystone.get_token('alpha-member', keystone.USER_PASSWORD, 'alpha')
    _, beta_id = keystone.get_token('beta-member', keystone.USER_PASSWORD, 'beta')
    env = {'OS_CLIENT_CONFIG_FILE': str(keystone.CLOUDS_YAML)}
    name = unique('owned')
    owned, shared = ansible.run([
        {'glint.glance.glance_image': {'name': name, 'owner': 'beta',
                                       'visibility': 'shared'}},
        member_task(image=name, member='alpha'),
    ], connection={'cloud': 'glint-admin', 'endpoint': glint_keystone.url}, env=env)
    assert not owned.get('failed'), owned.get('msg')
    assert owned['changed'] and owned['image']['owner'] == beta_id
    assert not shared.get('failed'), shared.get('msg')
    assert shared['changed'] and shared['member']['member_id'] == alpha_id
    alpha_name = unique('alpha-owned')
    created, refused = ansible.run([
        {'glint.glance.glance_image': {'name': alpha_name, 'visibility': 'shared'}},
        member_task(image=alpha_name, member='beta'),
    ], connection={'cloud': 'alpha-member', 'endpoint': glint_keystone.url}, env=env)
    assert not created.get('failed'), created.get('msg')
    assert refused['failed'] and 'give its ID' in refused['msg']
    members = requests.get('%s/v2/images/%s/members' % (glint_keystone.url,
                                                        created['image']['id']),
                           headers={'X-Auth-Token': keystone.get_token(
                               'alpha-member', keystone.USER_PASSWORD, 'alpha')[0]},
                           timeout=30).json()['members']
    assert members == []
