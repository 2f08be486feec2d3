"""Who sees and may change what: visibility, sharing, roles, protection, deactivation.

Upstream reference: glance/policies (secure-RBAC defaults), glance/api/v2/policy.py
(ImageAPIPolicy hides what the caller may not see behind 404, refuses the rest with
403), glance/api/v2/image_members.py and glance/db/sqlalchemy/api.py
(is_image_visible, _select_images_query, _image_member_find). Each test uses projects
of its own; ``as_project(p)`` acts with roles reader,member unless told otherwise.
"""
import uuid

import pytest

from tests.service.http_checks import patch

ACTIONS = '/v2/images/%s/actions/%s'


def unique(prefix: str) -> str:
    return '%s-%s' % (prefix, uuid.uuid4().hex[:12])


@pytest.fixture
def projects(as_project):
    """Three fresh projects: the owner, a future member and a stranger."""
    class Projects:
        owner_id, member_id, stranger_id = unique('owner'), unique('member'), unique('other')
        owner = as_project(owner_id)
        member = as_project(member_id)
        stranger = as_project(stranger_id)
        owner_reader = as_project(owner_id, roles='reader')
        member_reader = as_project(member_id, roles='reader')
    return Projects


def listed(client, image_id, **params) -> bool:
    resp = client.get('/v2/images', params={'id': image_id, **params})
    assert resp.status_code == 200, resp.text
    return [i['id'] for i in resp.json()['images']] == [image_id]


def make(client, data: bytes | None = b'image-data', **body) -> dict:
    image = client.create(name=body.pop('name', 'vis'), **body)
    if data is not None:
        assert client.upload(image['id'], data).status_code == 204
    return client.get('/v2/images/' + image['id']).json()


def everything_is_404(client, image_id):
    """Every route on the image answers 404 to a caller who may not see it."""
    members = '/v2/images/%s/members' % image_id
    calls = [
        ('GET', '/v2/images/' + image_id, {}),
        ('PATCH', '/v2/images/' + image_id,
         {'json': [{'op': 'replace', 'path': '/name', 'value': 'x'}],
          'headers': {'Content-Type': 'application/openstack-images-v2.1-json-patch'}}),
        ('DELETE', '/v2/images/' + image_id, {}),
        ('GET', '/v2/images/%s/file' % image_id, {}),
        ('PUT', '/v2/images/%s/file' % image_id,
         {'data': b'x', 'headers': {'Content-Type': 'application/octet-stream'}}),
        ('PUT', '/v2/images/%s/tags/t' % image_id, {}),
        ('DELETE', '/v2/images/%s/tags/t' % image_id, {}),
        ('POST', ACTIONS % (image_id, 'deactivate'), {}),
        ('POST', ACTIONS % (image_id, 'reactivate'), {}),
        ('GET', members, {}),
        ('POST', members, {'json': {'member': 'someone'}}),
        ('GET', members + '/someone', {}),
        ('PUT', members + '/someone', {'json': {'status': 'accepted'}}),
        ('DELETE', members + '/someone', {}),
    ]
    for method, url, kwargs in calls:
        resp = client.request(method, url, **kwargs)
        assert resp.status_code == 404, (method, url, resp.status_code, resp.text)


# -- visibility -----------------------------------------------------------------------
@pytest.mark.parametrize('visibility', ['private', 'shared'])
def test_private_and_unshared_images_are_invisible_to_others(projects, api, visibility):
    image = make(projects.owner, visibility=visibility)
    assert listed(projects.owner, image['id'])
    assert not listed(projects.stranger, image['id'])
    assert not listed(projects.stranger, image['id'], visibility='all')
    assert not listed(projects.stranger, image['id'], visibility=visibility)
    assert not listed(projects.stranger, image['id'], member_status='all')
    everything_is_404(projects.stranger, image['id'])
    # nothing changed, and the owner and the admin still see it
    assert projects.owner.get('/v2/images/' + image['id']).json() == image
    assert api.get('/v2/images/' + image['id']).status_code == 200
    assert listed(api, image['id'])


@pytest.fixture
def public_by_admin(api, projects):
    """A public image of the owner project (only an admin may publicize)."""
    def create(**body):
        image = make(api, visibility='public', owner=projects.owner_id, **body)
        assert image['owner'] == projects.owner_id
        return image
    return create


def test_public_images_are_visible_to_all_but_changed_by_the_owner(projects,
                                                                   public_by_admin):
    image = public_by_admin(data=b'public-data')
    for client in (projects.stranger, projects.member_reader, projects.owner):
        assert listed(client, image['id'])
        assert listed(client, image['id'], visibility='public')
        assert not listed(client, image['id'], visibility='private')
        assert client.get('/v2/images/' + image['id']).status_code == 200
    assert projects.stranger.get('/v2/images/%s/file' % image['id']).content == b'public-data'
    # a reader may see but not download
    assert projects.member_reader.get('/v2/images/%s/file' % image['id']).status_code == 403
    # others see it but may not change it: 403, not 404
    s = projects.stranger
    assert patch(s, image['id'], [{'op': 'replace', 'path': '/name',
                                   'value': 'mine'}]).status_code == 403
    assert patch(s, image['id'], [{'op': 'add', 'path': '/x',
                                   'value': 'y'}]).status_code == 403
    assert s.delete('/v2/images/' + image['id']).status_code == 403
    assert s.put('/v2/images/%s/tags/t' % image['id']).status_code == 403
    assert s.post(ACTIONS % (image['id'], 'deactivate')).status_code == 403
    assert s.get('/v2/images/%s/members' % image['id']).status_code == 403
    assert s.post('/v2/images/%s/members' % image['id'],
                  json={'member': projects.stranger_id}).status_code == 403
    assert projects.owner.get('/v2/images/' + image['id']).json() == image
    # the owner may change and delete it
    assert patch(projects.owner, image['id'], [{'op': 'replace', 'path': '/name',
                                                'value': 'renamed'}]).status_code == 200
    assert projects.owner.delete('/v2/images/' + image['id']).status_code == 204


def test_community_images_are_listed_only_when_asked_for(projects):
    image = make(projects.owner, visibility='community')
    assert image['visibility'] == 'community'
    assert listed(projects.owner, image['id'])                       # the owner's own
    assert not listed(projects.stranger, image['id'])
    assert listed(projects.stranger, image['id'], visibility='community')
    assert listed(projects.stranger, image['id'], visibility='all')
    resp = projects.stranger.get('/v2/images/' + image['id'])
    assert resp.status_code == 200 and resp.json()['visibility'] == 'community'
    assert projects.stranger.get('/v2/images/%s/file' % image['id']).status_code == 200
    assert patch(projects.stranger, image['id'], [
        {'op': 'replace', 'path': '/name', 'value': 'x'}]).status_code == 403
    assert projects.stranger.get('/v2/images/%s/members' % image['id']).status_code == 403


# -- sharing --------------------------------------------------------------------------
@pytest.fixture
def shared(projects):
    """A shared image of the owner, with the member project added (pending)."""
    image = make(projects.owner, visibility='shared', data=b'shared-data')
    resp = projects.owner.post('/v2/images/%s/members' % image['id'],
                               json={'member': projects.member_id})
    assert resp.status_code == 200, resp.text
    return image


def member_url(image, member_id=None):
    url = '/v2/images/%s/members' % image['id']
    return url + '/' + member_id if member_id else url


def set_status(client, image, member_id, status):
    return client.put(member_url(image, member_id), json={'status': status})


def test_adding_a_member(projects, shared):
    resp = projects.owner.get(member_url(shared, projects.member_id))
    assert resp.status_code == 200
    member = resp.json()
    assert member['member_id'] == projects.member_id
    assert member['image_id'] == shared['id'] and member['status'] == 'pending'
    assert member['schema'] == '/v2/schemas/member'
    assert set(member) == {'created_at', 'updated_at', 'image_id', 'member_id', 'schema',
                           'status'}
    body = projects.owner.get(member_url(shared)).json()
    assert [m['member_id'] for m in body['members']] == [projects.member_id]
    assert body['schema'] == '/v2/schemas/members'
    # twice is a conflict
    resp = projects.owner.post(member_url(shared), json={'member': projects.member_id})
    assert resp.status_code == 409, resp.text


@pytest.mark.parametrize('body', [{}, {'member': ''}, {'members': 'x'}, [], 'x',
                                  {'member': None}])
def test_adding_a_member_needs_a_member(projects, shared, body):
    resp = projects.owner.post(member_url(shared), json=body)
    assert resp.status_code == 400, resp.text


def test_pending_member_sees_the_image_but_not_in_the_default_list(projects, shared):
    m = projects.member
    assert m.get('/v2/images/' + shared['id']).status_code == 200
    assert not listed(m, shared['id'])
    assert listed(m, shared['id'], member_status='pending')
    assert listed(m, shared['id'], member_status='all')
    assert not listed(m, shared['id'], member_status='rejected')
    assert not listed(projects.stranger, shared['id'], member_status='pending')
    assert m.get('/v2/images/%s/file' % shared['id']).content == b'shared-data'


def test_member_accepts_and_rejects(projects, shared):
    m = projects.member
    resp = set_status(m, shared, projects.member_id, 'accepted')
    assert resp.status_code == 200, resp.text
    assert resp.json()['status'] == 'accepted'
    assert listed(m, shared['id'])
    assert not listed(m, shared['id'], member_status='pending')

    resp = set_status(m, shared, projects.member_id, 'rejected')
    assert resp.status_code == 200 and resp.json()['status'] == 'rejected'
    assert not listed(m, shared['id'])
    assert listed(m, shared['id'], member_status='rejected')
    assert m.get('/v2/images/' + shared['id']).status_code == 200    # still reachable

    assert set_status(m, shared, projects.member_id, 'pending').status_code == 200
    assert projects.owner.get(member_url(shared, projects.member_id)).json()['status'] \
        == 'pending'


@pytest.mark.parametrize('status', ['maybe', 'ACCEPTED', '', None, 7])
def test_invalid_member_status_is_400(projects, shared, status):
    resp = set_status(projects.member, shared, projects.member_id, status)
    assert resp.status_code == 400, resp.text
    for body in ({}, [], 'accepted'):
        resp = projects.member.put(member_url(shared, projects.member_id), json=body)
        assert resp.status_code == 400, resp.text


def test_owner_cannot_accept_for_the_member(projects, shared):
    resp = set_status(projects.owner, shared, projects.member_id, 'accepted')
    assert resp.status_code == 403, resp.text
    assert projects.owner.get(member_url(shared, projects.member_id)).json()['status'] \
        == 'pending'


def test_member_cannot_touch_another_membership(projects, shared, as_project):
    second_id = unique('second')
    assert projects.owner.post(member_url(shared),
                               json={'member': second_id}).status_code == 200
    second = as_project(second_id)
    # each member sees only its own membership
    assert [m['member_id'] for m in projects.member.get(member_url(shared)).json()[
        'members']] == [projects.member_id]
    assert second.get(member_url(shared, projects.member_id)).status_code == 404
    assert set_status(second, shared, projects.member_id, 'accepted').status_code == 404
    assert second.delete(member_url(shared, projects.member_id)).status_code == 404
    owner_view = projects.owner.get(member_url(shared)).json()['members']
    assert sorted(m['member_id'] for m in owner_view) == sorted([projects.member_id,
                                                                 second_id])
    assert all(m['status'] == 'pending' for m in owner_view)


def test_member_cannot_share_further_nor_remove_itself(projects, shared):
    m = projects.member
    assert set_status(m, shared, projects.member_id, 'accepted').status_code == 200
    resp = m.post(member_url(shared), json={'member': projects.stranger_id})
    assert resp.status_code == 403, resp.text
    assert m.delete(member_url(shared, projects.member_id)).status_code == 403
    # a member may use the image but not change it
    assert patch(m, shared['id'], [{'op': 'replace', 'path': '/name',
                                    'value': 'x'}]).status_code == 403
    assert m.delete('/v2/images/' + shared['id']).status_code == 403
    assert m.post(ACTIONS % (shared['id'], 'deactivate')).status_code == 403


def test_stranger_cannot_see_or_add_members(projects, shared):
    s = projects.stranger
    assert s.get(member_url(shared)).status_code == 404
    assert s.post(member_url(shared), json={'member': projects.stranger_id}).status_code == 404
    assert s.get(member_url(shared, projects.member_id)).status_code == 404
    assert set_status(s, shared, projects.member_id, 'accepted').status_code == 404


def test_owner_removes_a_member(projects, shared):
    assert set_status(projects.member, shared, projects.member_id,
                      'accepted').status_code == 200
    assert listed(projects.member, shared['id'])
    assert projects.owner.delete(member_url(shared, projects.member_id)).status_code == 204
    assert projects.member.get('/v2/images/' + shared['id']).status_code == 404
    assert not listed(projects.member, shared['id'], member_status='all')
    assert projects.owner.delete(member_url(shared, projects.member_id)).status_code == 404
    assert projects.owner.get(member_url(shared, projects.member_id)).status_code == 404
    assert projects.owner.get(member_url(shared)).json()['members'] == []


def test_reader_of_the_owner_project_sees_members_but_cannot_add(projects, shared):
    r = projects.owner_reader
    assert [m['member_id'] for m in r.get(member_url(shared)).json()['members']] == [
        projects.member_id]
    assert r.post(member_url(shared), json={'member': 'x'}).status_code == 403
    assert r.delete(member_url(shared, projects.member_id)).status_code == 403


def test_reader_member_cannot_accept(projects, shared):
    resp = set_status(projects.member_reader, shared, projects.member_id, 'accepted')
    assert resp.status_code == 403, resp.text


@pytest.mark.parametrize('visibility', ['private', 'public', 'community'])
def test_only_shared_images_have_members(projects, api, visibility):
    owner = api if visibility == 'public' else projects.owner
    image = make(owner, visibility=visibility, owner=projects.owner_id)
    for client in (projects.owner, api):
        assert client.get(member_url(image)).status_code == 403
        resp = client.post(member_url(image), json={'member': projects.member_id})
        assert resp.status_code == 403, resp.text
        # Glance hides membership details of an image that cannot have any
        assert client.get(member_url(image, projects.member_id)).status_code == 404


def test_private_image_with_members_hides_it_from_them(projects, shared):
    """Members keep their rows when the owner makes the image private, but lose it."""
    assert set_status(projects.member, shared, projects.member_id,
                      'accepted').status_code == 200
    assert patch(projects.owner, shared['id'], [{'op': 'replace', 'path': '/visibility',
                                                 'value': 'private'}]).status_code == 200
    assert projects.member.get('/v2/images/' + shared['id']).status_code == 404
    assert not listed(projects.member, shared['id'])
    assert patch(projects.owner, shared['id'], [{'op': 'replace', 'path': '/visibility',
                                                 'value': 'shared'}]).status_code == 200
    assert listed(projects.member, shared['id'])


def test_admin_manages_members_of_any_image(projects, api, shared):
    assert api.get(member_url(shared)).status_code == 200
    assert api.post(member_url(shared), json={'member': 'by-admin'}).status_code == 200
    assert set_status(api, shared, 'by-admin', 'accepted').status_code == 200
    assert api.delete(member_url(shared, 'by-admin')).status_code == 204


# -- roles ----------------------------------------------------------------------------
def test_reader_cannot_change_anything(projects):
    image = make(projects.owner)
    queued = make(projects.owner, data=None)
    r = projects.owner_reader
    assert r.get('/v2/images/' + image['id']).status_code == 200
    assert listed(r, image['id'])
    resp = r.post('/v2/images', json={'name': 'by-reader', 'disk_format': 'raw',
                                      'container_format': 'bare'})
    assert resp.status_code == 403, resp.text
    assert patch(r, image['id'], [{'op': 'replace', 'path': '/name',
                                   'value': 'x'}]).status_code == 403
    assert r.delete('/v2/images/' + image['id']).status_code == 403
    assert r.upload(queued['id'], b'data').status_code == 403
    assert r.get('/v2/images/%s/file' % image['id']).status_code == 403
    assert r.put('/v2/images/%s/tags/t' % image['id']).status_code == 403
    assert r.delete('/v2/images/%s/tags/t' % image['id']).status_code == 403
    assert r.post(ACTIONS % (image['id'], 'deactivate')).status_code == 403
    assert projects.owner.get('/v2/images/' + image['id']).json() == image
    assert projects.owner.get('/v2/images/' + queued['id']).json()['status'] == 'queued'


def test_no_role_sees_nothing(as_project):
    project = unique('norole')
    owner = as_project(project)
    image = make(owner)
    nobody = as_project(project, roles='guest')
    assert nobody.get('/v2/images').status_code == 403
    assert nobody.get('/v2/images/' + image['id']).status_code == 404
    assert nobody.post('/v2/images', json={'name': 'x'}).status_code == 403


def test_non_admin_cannot_publicize(projects):
    resp = projects.owner.post('/v2/images', json={'name': 'pub', 'visibility': 'public'})
    assert resp.status_code == 403, resp.text
    image = make(projects.owner)
    resp = patch(projects.owner, image['id'], [{'op': 'replace', 'path': '/visibility',
                                                'value': 'public'}])
    assert resp.status_code == 403, resp.text
    assert projects.owner.get('/v2/images/' + image['id']).json()['visibility'] == 'shared'


def test_non_admin_can_communitize_and_make_private(projects):
    image = make(projects.owner, data=None)
    for visibility in ('community', 'private', 'shared'):
        resp = patch(projects.owner, image['id'], [{'op': 'replace', 'path': '/visibility',
                                                    'value': visibility}])
        assert resp.status_code == 200, resp.text
        assert resp.json()['visibility'] == visibility
    resp = projects.owner.post('/v2/images', json={'name': 'c', 'visibility': 'community'})
    assert resp.status_code == 201, resp.text


def test_admin_can_publicize(api, projects, as_project):
    image = make(projects.owner, data=None)
    resp = patch(api, image['id'], [{'op': 'replace', 'path': '/visibility',
                                     'value': 'public'}])
    assert resp.status_code == 200 and resp.json()['visibility'] == 'public'
    admin = as_project(projects.owner_id, roles='admin,member,reader')
    resp = admin.post('/v2/images', json={'name': 'pub', 'visibility': 'public'})
    assert resp.status_code == 201 and resp.json()['owner'] == projects.owner_id


def test_non_admin_cannot_create_or_move_images_to_another_project(projects, api):
    resp = projects.owner.post('/v2/images', json={'name': 'x',
                                                   'owner': projects.stranger_id})
    assert resp.status_code == 403, resp.text
    resp = projects.owner.post('/v2/images', json={'name': 'x', 'owner': projects.owner_id})
    assert resp.status_code == 201 and resp.json()['owner'] == projects.owner_id
    image = resp.json()
    resp = patch(projects.owner, image['id'], [{'op': 'replace', 'path': '/owner',
                                                'value': projects.stranger_id}])
    assert resp.status_code == 403, resp.text
    resp = patch(api, image['id'], [{'op': 'replace', 'path': '/owner',
                                     'value': projects.stranger_id}])
    assert resp.status_code == 200 and resp.json()['owner'] == projects.stranger_id
    assert projects.owner.get('/v2/images/' + image['id']).status_code == 404
    assert projects.stranger.get('/v2/images/' + image['id']).status_code == 200


def test_images_are_owned_by_the_callers_project(projects):
    image = projects.owner.create(name='mine')
    assert image['owner'] == projects.owner_id
    assert image['visibility'] == 'shared'


# -- protection -----------------------------------------------------------------------
def test_protected_image_cannot_be_deleted(projects, api, server):
    image = make(projects.owner, protected=True)
    assert image['protected'] is True
    assert projects.owner.delete('/v2/images/' + image['id']).status_code == 403
    assert api.delete('/v2/images/' + image['id']).status_code == 403
    assert projects.owner.get('/v2/images/' + image['id']).json()['status'] == 'active'
    assert projects.owner.get('/v2/images/%s/file' % image['id']).content == b'image-data'
    resp = patch(projects.owner, image['id'], [{'op': 'replace', 'path': '/protected',
                                                'value': False}])
    assert resp.status_code == 200 and resp.json()['protected'] is False
    assert projects.owner.delete('/v2/images/' + image['id']).status_code == 204
    assert projects.owner.get('/v2/images/' + image['id']).status_code == 404
    assert not (server.datadir / image['id']).exists()


def test_protected_image_can_still_be_changed(projects):
    image = make(projects.owner, protected=True, data=None)
    resp = patch(projects.owner, image['id'], [{'op': 'replace', 'path': '/name',
                                                'value': 'renamed'}])
    assert resp.status_code == 200 and resp.json()['name'] == 'renamed'
    assert projects.owner.upload(image['id'], b'data').status_code == 204


# -- deactivation ---------------------------------------------------------------------
def test_deactivate_and_reactivate(projects):
    image = make(projects.owner)
    o = projects.owner
    assert o.post(ACTIONS % (image['id'], 'deactivate')).status_code == 204
    assert o.get('/v2/images/' + image['id']).json()['status'] == 'deactivated'
    assert o.post(ACTIONS % (image['id'], 'deactivate')).status_code == 204   # idempotent
    assert listed(o, image['id'])
    assert listed(o, image['id'], status='deactivated')
    assert o.post(ACTIONS % (image['id'], 'reactivate')).status_code == 204
    assert o.get('/v2/images/' + image['id']).json()['status'] == 'active'
    assert o.post(ACTIONS % (image['id'], 'reactivate')).status_code == 204   # idempotent
    assert o.get('/v2/images/%s/file' % image['id']).content == b'image-data'


@pytest.mark.parametrize('action', ['deactivate', 'reactivate'])
def test_only_active_or_deactivated_images_change(projects, action):
    queued = make(projects.owner, data=None)
    resp = projects.owner.post(ACTIONS % (queued['id'], action))
    assert resp.status_code == 403, resp.text
    assert projects.owner.get('/v2/images/' + queued['id']).json()['status'] == 'queued'


def test_deactivation_by_others(projects, api, shared):
    assert projects.member_reader.post(
        ACTIONS % (shared['id'], 'deactivate')).status_code == 403
    assert projects.owner_reader.post(
        ACTIONS % (shared['id'], 'deactivate')).status_code == 403
    assert projects.stranger.post(ACTIONS % (shared['id'], 'deactivate')).status_code == 404
    assert api.post(ACTIONS % (shared['id'], 'deactivate')).status_code == 204
    # the member may still see it, but not download it
    m = projects.member
    assert m.get('/v2/images/' + shared['id']).json()['status'] == 'deactivated'
    assert m.get('/v2/images/%s/file' % shared['id']).status_code == 403
    assert projects.owner.post(ACTIONS % (shared['id'], 'reactivate')).status_code == 204
    assert m.get('/v2/images/%s/file' % shared['id']).content == b'shared-data'


def test_deleted_image_cannot_be_deactivated(projects):
    image = make(projects.owner)
    assert projects.owner.delete('/v2/images/' + image['id']).status_code == 204
    assert projects.owner.post(ACTIONS % (image['id'], 'deactivate')).status_code == 404
