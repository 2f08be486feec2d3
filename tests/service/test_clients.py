"""The real OpenStack clients, unchanged, against a running glance-api in no-auth mode.

openstacksdk (the Python API), python-glanceclient (the ``glance`` CLI) and
python-openstackclient (the ``openstack`` CLI) each drive the server end to end; every
test checks the effect through the server's own view (``api``) as well as the client's.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import openstack
import pytest
from keystoneauth1 import noauth
from keystoneauth1 import session as ks_session
from openstack import exceptions as sdk_exc

BIN = Path(sys.executable).parent
MiB = 1024 * 1024


def unique(prefix: str) -> str:
    return '%s-%s' % (prefix, uuid.uuid4().hex[:12])


@pytest.fixture
def payload(tmp_path):
    """A few MiB of random bytes in a file: (path, bytes)."""
    data = os.urandom(2 * MiB + 4099)
    path = tmp_path / 'image.raw'
    path.write_bytes(data)
    return path, data


# -- openstacksdk ---------------------------------------------------------------------

def sdk_admin(server) -> openstack.connection.Connection:
    """openstacksdk configured the way a clouds.yaml no-auth cloud is."""
    return openstack.connect(auth_type='none', auth={'endpoint': server.url},
                             image_endpoint_override=server.url)


def sdk_project(server, project: str, roles: str = 'reader,member'):
    """openstacksdk acting inside ``project``: a keystoneauth no-auth session whose
    requests carry the identity headers the no-auth flavor trusts."""
    sess = ks_session.Session(
        auth=noauth.NoAuth(endpoint=server.url),
        additional_headers={'X-Project-Id': project, 'X-Roles': roles,
                            'X-User-Id': 'user-' + project})
    return openstack.connection.Connection(session=sess,
                                           image_endpoint_override=server.url)


def record_requests(conn) -> list:
    """Every (method, url) the connection sends from now on."""
    seen = []
    conn.session.session.hooks['response'].append(
        lambda resp, *a, **kw: seen.append((resp.request.method, resp.request.url)))
    return seen


@pytest.fixture
def sdk(server):
    conn = sdk_admin(server)
    yield conn
    conn.close()


def sdk_upload(conn, path, **kwargs):
    kwargs.setdefault('disk_format', 'raw')
    kwargs.setdefault('container_format', 'bare')
    return conn.image.create_image(kwargs.pop('name', unique('sdk')), filename=str(path),
                                   use_import=False, validate_checksum=True,
                                   allow_duplicates=True, **kwargs)


def test_sdk_points_at_server(server, sdk, api):
    assert sdk.image.get_endpoint().startswith(server.url)
    name = unique('sdk-endpoint')
    image = api.create(name=name)
    seen = record_requests(sdk)
    assert [i.id for i in sdk.image.images(name=name)] == [image['id']]
    assert seen and all(url.startswith(server.url + '/v2/images') for _, url in seen)



def test_clouds_yaml_no_auth_cloud(server, api, tmp_path):
    """A clouds.yaml no-auth cloud, read by openstacksdk and by `openstack --os-cloud`."""
    clouds = tmp_path / 'clouds.yaml'
    clouds.write_text('clouds:\n  glint:\n    auth_type: none\n    auth:\n'
                      '      endpoint: %s\n    image_endpoint_override: %s\n'
                      % (server.url, server.url))
    image = api.create(name=unique('clouds-yaml'), tags=['cy'])

    config = openstack.config.OpenStackConfig(config_files=[str(clouds)], vendor_files=[])
    conn = openstack.connection.Connection(config=config.get_one('glint'))
    assert [i.id for i in conn.image.images(name=image['name'])] == [image['id']]
    conn.image.add_tag(image['id'], 'from-sdk')
    assert sorted(api.get('/v2/images/' + image['id']).json()['tags']) == ['cy', 'from-sdk']

    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    env['OS_CLIENT_CONFIG_FILE'] = str(clouds)
    proc = subprocess.run([str(BIN / 'openstack'), '--os-cloud', 'glint', 'image', 'show',
                           '-f', 'json', image['id']],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert shown['id'] == image['id'] and sorted(shown['tags']) == ['cy', 'from-sdk']

def test_sdk_create_upload_download(server, sdk, api, payload, tmp_path):
    path, data = payload
    seen = record_requests(sdk)
    image = sdk_upload(sdk, path, tags=['sdk'], os_distro='cirros', min_ram=64)
    assert ('PUT', '%s/v2/images/%s/file' % (server.url, image.id)) in seen
    assert not any('/import' in url or '/stage' in url for _, url in seen)

    shown = api.get('/v2/images/' + image.id).json()
    assert shown['status'] == 'active' and shown['size'] == len(data)
    assert shown['checksum'] == hashlib.md5(data).hexdigest()
    assert shown['os_hash_value'] == hashlib.sha512(data).hexdigest()
    assert shown['tags'] == ['sdk'] and shown['os_distro'] == 'cirros'
    assert shown['min_ram'] == 64

    fetched = sdk.image.get_image(image.id)
    assert fetched.status == 'active' and fetched.size == len(data)
    assert fetched.checksum == hashlib.md5(data).hexdigest()
    assert fetched.hash_algo == 'sha512'
    assert fetched.hash_value == hashlib.sha512(data).hexdigest()
    assert fetched.os_distro == 'cirros' and fetched.min_ram == 64

    whole = sdk.image.download_image(image)
    assert whole.content == data
    assert whole.headers['Content-MD5'] == fetched.checksum

    stream = sdk.image.download_image(image, stream=True)
    digest = hashlib.sha512()
    received = 0
    for chunk in stream.iter_content(chunk_size=64 * 1024):
        digest.update(chunk)
        received += len(chunk)
    assert received == len(data)
    assert digest.hexdigest() == fetched.hash_value

    out = tmp_path / 'downloaded.raw'
    sdk.image.download_image(image, output=str(out))
    assert out.read_bytes() == data


def test_sdk_list_filters(sdk, api):
    tag = unique('tag')
    base = unique('sdk-list')
    made = {}
    for suffix, visibility, tags in (('a', 'private', [tag]), ('b', 'shared', [tag, 'x']),
                                     ('c', 'public', [])):
        made[suffix] = api.create(name='%s-%s' % (base, suffix), visibility=visibility,
                                  tags=tags)['id']
    api.upload(made['a'], b'data')

    def ids(**query):
        return [i.id for i in sdk.image.images(**query)]

    assert ids(name=base + '-b') == [made['b']]
    assert ids(name=base + '-c', visibility='public') == [made['c']]
    assert ids(name=base + '-c', visibility='private') == []
    assert sorted(ids(tag=tag)) == sorted([made['a'], made['b']])
    assert ids(tag=[tag, 'x']) == [made['b']]
    assert made['a'] in ids(status='active')
    assert made['b'] not in ids(status='active')
    assert ids(tag=tag, status='queued') == [made['b']]
    assert ids(tag=tag, sort='name:desc') == [made['b'], made['a']]
    assert ids(tag=tag, sort_key='name', sort_dir='asc') == [made['a'], made['b']]


def test_sdk_list_pages_with_marker(server, sdk, api):
    tag = unique('page')
    names = ['%s-%02d' % (tag, i) for i in range(7)]
    ids = [api.create(name=n, tags=[tag])['id'] for n in reversed(names)]
    by_name = dict(zip(reversed(names), ids, strict=True))

    seen = record_requests(sdk)
    listed = list(sdk.image.images(tag=tag, sort='name:asc', limit=2))
    assert [i.name for i in listed] == names
    assert [i.id for i in listed] == [by_name[n] for n in names]
    pages = [url for method, url in seen if method == 'GET' and '/v2/images?' in url]
    assert len(pages) >= 4, pages
    assert sum('marker=' in url for url in pages) >= 3, pages

    # the default order pages the same way as one unpaged listing
    seen.clear()
    unpaged = [i['id'] for i in api.get('/v2/images', params={'tag': tag}).json()['images']]
    assert sorted(unpaged) == sorted(ids)
    assert [i.id for i in sdk.image.images(tag=tag, limit=3)] == unpaged
    assert sum('marker=' in url for _, url in seen) >= 2



def test_sdk_pages_with_ties_and_missing_sizes(sdk, api):
    """Keyset pagination must stay exact when the sort key repeats or is null."""
    tag = unique('ties')
    ids = []
    for i in range(6):
        image = api.create(name='same-name', tags=[tag])
        ids.append(image['id'])
        if i % 2 == 0:                       # the others stay queued, size null
            assert api.upload(image['id'], b'x' * (10 * (i % 4 + 1))).status_code == 204
    for sort in ('name:asc', 'name:desc', 'size:asc', 'size:desc', 'status:asc',
                 'disk_format:asc,size:desc', 'created_at:asc', 'updated_at:desc'):
        unpaged = [i['id'] for i in
                   api.get('/v2/images', params={'tag': tag, 'sort': sort}).json()['images']]
        assert sorted(unpaged) == sorted(ids), sort
        for limit in (1, 2, 4):
            paged = [i.id for i in sdk.image.images(tag=tag, sort=sort, limit=limit)]
            assert paged == unpaged, (sort, limit)


def test_sdk_schemas_and_discovery(sdk):
    image_schema = sdk.image.get_image_schema()
    assert {'name', 'visibility', 'tags', 'os_hash_value'} <= set(image_schema.properties)
    assert 'properties' in sdk.image.get_images_schema().properties['images']['items']
    assert set(sdk.image.get_member_schema().properties) >= {'member_id', 'status'}
    assert 'members' in sdk.image.get_members_schema().properties
    # Import is not served yet, so no import method is offered (whatever the config).
    assert sdk.image.get_import_info().import_methods['value'] == []


def test_sdk_cloud_layer(server, sdk, api, payload, tmp_path):
    """The openstack.cloud layer (what Ansible's openstack.cloud.image drives)."""
    path, data = payload
    name = unique('cloud')
    image = sdk.create_image(name, filename=str(path), disk_format='qcow2',
                             container_format='bare', wait=True, timeout=60,
                             use_import=False, validate_checksum=True, tags=['c'],
                             meta={'purpose': 'test'}, visibility='private', min_disk=1)
    assert image.status == 'active' and image.size == len(data)
    shown = api.get('/v2/images/' + image.id).json()
    assert shown['owner_specified.openstack.md5'] == hashlib.md5(data).hexdigest()
    assert shown['owner_specified.openstack.sha256'] == hashlib.sha256(data).hexdigest()
    assert shown['purpose'] == 'test' and shown['visibility'] == 'private'
    assert shown['min_disk'] == 1 and shown['tags'] == ['c']

    assert sdk.get_image(name).id == image.id
    assert [i.id for i in sdk.search_images(name)] == [image.id]
    assert image.id in [i.id for i in sdk.list_images()]

    # same name and same checksums: the existing image is up to date, nothing new
    again = sdk.create_image(name, filename=str(path), disk_format='qcow2',
                             container_format='bare', wait=True, use_import=False,
                             validate_checksum=True)
    assert again.id == image.id
    assert len(api.get('/v2/images', params={'name': name}).json()['images']) == 1

    assert sdk.update_image_properties(image=sdk.get_image(image.id),
                                       meta={'purpose': 'changed'}, os_distro='arch')
    shown = api.get('/v2/images/' + image.id).json()
    assert shown['purpose'] == 'changed' and shown['os_distro'] == 'arch'

    out = tmp_path / 'cloud.out'
    sdk.download_image(name, output_file=str(out))
    assert out.read_bytes() == data

    assert sdk.delete_image(name, wait=True, timeout=60)
    assert sdk.get_image(name) is None
    assert api.get('/v2/images/' + image.id).status_code == 404

def test_sdk_update_image(sdk, api):
    image = api.create(name=unique('sdk-update'), os_distro='debian')
    updated = sdk.image.update_image(image['id'], name=image['name'] + '-renamed',
                                     min_disk=5, min_ram=128, visibility='private',
                                     is_protected=True, tags=['one', 'two'],
                                     os_version='12', hw_disk_bus='scsi')
    assert updated.min_disk == 5 and updated.is_protected is True
    shown = api.get('/v2/images/' + image['id']).json()
    assert shown['name'] == image['name'] + '-renamed'
    assert shown['min_disk'] == 5 and shown['min_ram'] == 128
    assert shown['visibility'] == 'private' and shown['protected'] is True
    assert sorted(shown['tags']) == ['one', 'two']
    assert shown['os_version'] == '12' and shown['hw_disk_bus'] == 'scsi'
    assert shown['os_distro'] == 'debian'

    again = sdk.image.update_image(image['id'], is_protected=False, visibility='shared',
                                   os_version='13')
    assert again.is_protected is False and again.visibility == 'shared'
    shown = api.get('/v2/images/' + image['id']).json()
    assert shown['protected'] is False and shown['os_version'] == '13'
    assert shown['min_disk'] == 5


def test_sdk_tags(sdk, api):
    image = api.create(name=unique('sdk-tags'), tags=['keep'])
    sdk.image.add_tag(image['id'], 'added')
    sdk.image.add_tag(image['id'], 'added')        # idempotent, as in Glance
    assert sorted(api.get('/v2/images/' + image['id']).json()['tags']) == ['added', 'keep']
    sdk.image.remove_tag(image['id'], 'keep')
    assert api.get('/v2/images/' + image['id']).json()['tags'] == ['added']
    with pytest.raises(sdk_exc.NotFoundException):
        sdk.image.remove_tag(image['id'], 'never-there')


def test_sdk_deactivate_reactivate(server, sdk, api, payload):
    path, data = payload
    project = unique('proj')
    owner = sdk_project(server, project)
    image = sdk_upload(owner, path, visibility='private')
    sdk.image.deactivate_image(image.id)
    assert api.get('/v2/images/' + image.id).json()['status'] == 'deactivated'
    # download_image does not check the status of the data response, so ask directly
    refused = owner.image.get('/images/%s/file' % image.id)
    assert refused.status_code == 403, refused.text
    sdk.image.reactivate_image(image.id)
    assert api.get('/v2/images/' + image.id).json()['status'] == 'active'
    assert owner.image.download_image(image.id).content == data


def test_sdk_delete_and_protected_delete(sdk, api, payload):
    path, _ = payload
    image = sdk_upload(sdk, path, is_protected=True)
    assert api.get('/v2/images/' + image.id).json()['protected'] is True
    with pytest.raises(sdk_exc.ForbiddenException):
        sdk.image.delete_image(image.id, ignore_missing=False)
    assert api.get('/v2/images/' + image.id).json()['status'] == 'active'

    sdk.image.update_image(image.id, is_protected=False)
    sdk.image.delete_image(image.id, ignore_missing=False)
    assert api.get('/v2/images/' + image.id).status_code == 404
    assert sdk.image.find_image(image.id) is None
    with pytest.raises(sdk_exc.NotFoundException):
        sdk.image.delete_image(image.id, ignore_missing=False)


def test_sdk_sharing(server, payload):
    path, data = payload
    owner_project, member_project = unique('owner'), unique('member')
    owner = sdk_project(server, owner_project)
    member = sdk_project(server, member_project)
    image = sdk_upload(owner, path, visibility='shared')
    assert image.owner == owner_project

    with pytest.raises(sdk_exc.NotFoundException):
        member.image.get_image(image.id)

    added = owner.image.add_member(image.id, member_id=member_project)
    assert added.member_id == member_project and added.status == 'pending'
    assert [m.member_id for m in owner.image.members(image.id)] == [member_project]
    assert owner.image.get_member(member_project, image.id).status == 'pending'

    # pending: visible by id and with member_status, not in the default list
    assert member.image.get_image(image.id).id == image.id
    assert image.id not in [i.id for i in member.image.images()]
    assert image.id in [i.id for i in member.image.images(member_status='pending')]

    accepted = member.image.update_member(member_project, image.id, status='accepted')
    assert accepted.status == 'accepted'
    assert owner.image.get_member(member_project, image.id).status == 'accepted'
    assert image.id in [i.id for i in member.image.images()]
    assert member.image.download_image(image.id).content == data
    # a member cannot share further or change the image
    with pytest.raises(sdk_exc.ForbiddenException):
        member.image.add_member(image.id, member_id=unique('third'))
    with pytest.raises(sdk_exc.ForbiddenException):
        member.image.update_image(image.id, name='stolen')

    rejected = member.image.update_member(member_project, image.id, status='rejected')
    assert rejected.status == 'rejected'
    assert image.id not in [i.id for i in member.image.images()]
    assert image.id in [i.id for i in member.image.images(member_status='rejected')]

    owner.image.remove_member(member_project, image.id)
    assert list(owner.image.members(image.id)) == []
    with pytest.raises(sdk_exc.NotFoundException):
        member.image.get_image(image.id)


# -- the glance CLI (python-glanceclient) ------------------------------------------------

def glance(server, *args: str, check: bool = True,
           stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """Run the glance CLI with a token and an image URL: no Keystone involved.

    glanceclient uploads standard input when it is not a terminal, so it is a pipe
    carrying ``stdin`` (empty unless given): commands without --file upload nothing
    unless the test means them to.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    proc = subprocess.run(
        [str(BIN / 'glance'), '--os-auth-token', 'no-auth', '--os-image-url', server.url,
         '--os-image-api-version', '2', *args],
        input=stdin, capture_output=True, env=env, timeout=120)
    proc.stdout, proc.stderr = proc.stdout.decode(), proc.stderr.decode()
    if check:
        assert proc.returncode == 0, 'glance %s\n%s\n%s' % (' '.join(args), proc.stdout,
                                                           proc.stderr)
    return proc


def table(output: str) -> dict[str, str]:
    """A glance 'Property | Value' table as a dict."""
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if line.startswith('|') and len(cells) == 2 and cells[0] != 'Property':
            rows[cells[0]] = cells[1]
    return rows


def test_glance_cli_create_show_download(server, api, payload, tmp_path):
    path, data = payload
    name = unique('glance-cli')
    created = table(glance(server, 'image-create', '--name', name, '--disk-format', 'qcow2',
                           '--container-format', 'bare', '--file', str(path),
                           '--property', 'os_distro=ubuntu', '--property', 'k1=v1',
                           '--min-disk', '3', '--tags', 't1', '--progress').stdout)
    image_id = created['id']
    assert created['status'] == 'active'
    assert created['checksum'] == hashlib.md5(data).hexdigest()

    shown = api.get('/v2/images/' + image_id).json()
    assert shown['name'] == name and shown['disk_format'] == 'qcow2'
    assert shown['size'] == len(data) and shown['os_distro'] == 'ubuntu'
    assert shown['k1'] == 'v1' and shown['min_disk'] == 3 and shown['tags'] == ['t1']
    assert shown['os_hash_value'] == hashlib.sha512(data).hexdigest()

    listed = glance(server, 'image-list', '--property-filter', 'name=' + name).stdout
    assert image_id in listed
    assert image_id not in glance(server, 'image-list', '--property-filter',
                                  'name=' + unique('nothing')).stdout

    shown_cli = table(glance(server, 'image-show', image_id).stdout)
    assert shown_cli['name'] == name and shown_cli['k1'] == 'v1'
    assert shown_cli['size'] == str(len(data))

    out = tmp_path / 'out.raw'
    glance(server, 'image-download', '--file', str(out), image_id)
    assert out.read_bytes() == data



def test_glance_cli_upload_and_stdin(server, api, payload, tmp_path):
    path, data = payload
    image = api.create(name=unique('glance-upload'))
    glance(server, 'image-upload', '--file', str(path), '--size', str(len(data)),
           image['id'])
    shown = api.get('/v2/images/' + image['id']).json()
    assert shown['status'] == 'active' and shown['size'] == len(data)
    assert shown['checksum'] == hashlib.md5(data).hexdigest()
    # uploading twice is a conflict, and the data stays what it was
    again = glance(server, 'image-upload', '--file', str(path), image['id'], check=False)
    assert again.returncode != 0 and '409' in again.stderr + again.stdout

    # `cat image | glance image-create ...` streams standard input
    piped = os.urandom(MiB + 1)
    created = table(glance(server, 'image-create', '--name', unique('glance-stdin'),
                           '--disk-format', 'raw', '--container-format', 'bare',
                           stdin=piped).stdout)
    assert created['status'] == 'active' and created['size'] == str(len(piped))
    out = tmp_path / 'piped.out'
    glance(server, 'image-download', '--file', str(out), created['id'])
    assert out.read_bytes() == piped

    # an image without data: nothing to download, and the CLI says so
    empty = api.create(name=unique('glance-empty'))
    nodata = glance(server, 'image-download', '--file', str(tmp_path / 'none'), empty['id'],
                    check=False)
    assert nodata.returncode != 0 and 'no data' in nodata.stderr
    assert not (tmp_path / 'none').exists()


def test_glance_cli_list_filters_and_pages(server, api, as_project):
    tag = unique('glance-tag')
    owner = unique('owner')
    project = as_project(owner)
    made = {}
    for suffix, visibility, tags in (('a', 'private', [tag]), ('b', 'shared', [tag, 'x']),
                                     ('c', 'community', [tag]), ('d', 'public', [tag])):
        creator = api if visibility == 'public' else project   # publicize is admin only
        made[suffix] = creator.create(name='%s-%s' % (tag, suffix), visibility=visibility,
                                      tags=tags)['id']

    def ids(*args):
        out = glance(server, 'image-list', '--tag', tag, *args).stdout
        return [line.split('|')[1].strip() for line in out.splitlines()
                if line.startswith('|') and len(line.split('|')) > 2
                and line.split('|')[1].strip() not in ('ID', '')]

    # as in Glance, community images are only listed when asked for (or owned)
    listed = [made[k] for k in 'abd']
    # glanceclient follows the `next` links page by page
    assert ids('--page-size', '1', '--sort-key', 'name', '--sort-dir', 'asc') == listed
    assert ids('--page-size', '2', '--sort', 'name:desc') == listed[::-1]
    assert ids('--visibility', 'community') == [made['c']]
    assert ids('--visibility', 'all', '--sort', 'name:asc') == [made[k] for k in 'abcd']
    assert ids('--visibility', 'public') == [made['d']]
    assert ids('--tag', 'x') == [made['b']]
    assert sorted(ids('--owner', owner)) == sorted([made['a'], made['b']])
    assert ids('--property-filter', 'name=%s-a' % tag) == [made['a']]
    assert api.upload(made['a'], b'abc').status_code == 204
    assert ids('--checksum', hashlib.md5(b'abc').hexdigest()) == [made['a']]
    assert ids('--hash', hashlib.sha512(b'abc').hexdigest()) == [made['a']]


def test_glance_cli_classic_environment(server, api):
    """OS_AUTH_TOKEN + OS_IMAGE_URL, the classic no-Keystone glance setup."""
    image = api.create(name=unique('glance-env'), k1='v1')
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    env.update(OS_AUTH_TOKEN='no-auth', OS_IMAGE_URL=server.url)
    proc = subprocess.run([str(BIN / 'glance'), 'image-show', image['id']],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    shown = table(proc.stdout)
    assert shown['id'] == image['id'] and shown['k1'] == 'v1' and shown['status'] == 'queued'

def test_glance_cli_update_and_tags(server, api):
    image = api.create(name=unique('glance-upd'), k1='v1', k2='v2', tags=['a'])
    glance(server, 'image-update', image['id'], '--property', 'k3=v3',
           '--property', 'k1=changed', '--remove-property', 'k2', '--min-ram', '256',
           '--protected', 'True', '--name', image['name'] + '-x')
    shown = api.get('/v2/images/' + image['id']).json()
    assert shown['k1'] == 'changed' and shown['k3'] == 'v3' and 'k2' not in shown
    assert shown['min_ram'] == 256 and shown['protected'] is True
    assert shown['name'] == image['name'] + '-x'

    glance(server, 'image-tag-update', image['id'], 'b')
    assert sorted(api.get('/v2/images/' + image['id']).json()['tags']) == ['a', 'b']
    glance(server, 'image-tag-delete', image['id'], 'a')
    assert api.get('/v2/images/' + image['id']).json()['tags'] == ['b']

    refused = glance(server, 'image-delete', image['id'], check=False)
    assert refused.returncode != 0
    assert api.get('/v2/images/' + image['id']).status_code == 200
    glance(server, 'image-update', image['id'], '--protected', 'False')
    glance(server, 'image-delete', image['id'])
    assert api.get('/v2/images/' + image['id']).status_code == 404


def test_glance_cli_members(server, api, as_project):
    owner_project, member_project = unique('owner'), unique('member')
    owner = as_project(owner_project)
    image = owner.create(name=unique('glance-share'), visibility='shared')

    glance(server, 'member-create', image['id'], member_project)
    members = owner.get('/v2/images/%s/members' % image['id']).json()['members']
    assert [(m['member_id'], m['status']) for m in members] == [(member_project, 'pending')]
    assert member_project in glance(server, 'member-list', '--image-id', image['id']).stdout

    glance(server, 'member-update', image['id'], member_project, 'accepted')
    member = as_project(member_project)
    assert member.get('/v2/images/%s/members/%s' % (image['id'], member_project)
                      ).json()['status'] == 'accepted'
    assert image['id'] in [i['id'] for i in member.get('/v2/images').json()['images']]

    glance(server, 'member-delete', image['id'], member_project)
    assert owner.get('/v2/images/%s/members' % image['id']).json()['members'] == []
    assert member.get('/v2/images/' + image['id']).status_code == 404


def test_glance_cli_deactivate_reactivate(server, api):
    image = api.create(name=unique('glance-deact'))
    assert api.upload(image['id'], b'x' * 1000).status_code == 204
    glance(server, 'image-deactivate', image['id'])
    assert api.get('/v2/images/' + image['id']).json()['status'] == 'deactivated'
    glance(server, 'image-reactivate', image['id'])
    assert api.get('/v2/images/' + image['id']).json()['status'] == 'active'


# -- the openstack CLI (python-openstackclient) -----------------------------------------

def osc(server, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    proc = subprocess.run(
        [str(BIN / 'openstack'), '--os-auth-type', 'none', '--os-endpoint', server.url,
         *args], capture_output=True, text=True, env=env, timeout=120)
    if check:
        assert proc.returncode == 0, 'openstack %s\n%s\n%s' % (' '.join(args), proc.stdout,
                                                               proc.stderr)
    return proc


def osc_json(server, *args: str):
    return json.loads(osc(server, *args, '-f', 'json').stdout)


def test_osc_create_show_save(server, api, payload, tmp_path):
    path, data = payload
    name = unique('osc')
    created = osc_json(server, 'image', 'create', '--file', str(path), '--disk-format', 'raw',
                       '--container-format', 'bare', '--property', 'os_distro=fedora',
                       '--property', 'k1=v1', '--tag', 'red', '--tag', 'blue',
                       '--min-disk', '2', '--private', name)
    assert created['status'] == 'active'
    shown = api.get('/v2/images/' + created['id']).json()
    assert shown['name'] == name and shown['size'] == len(data)
    assert shown['checksum'] == hashlib.md5(data).hexdigest()
    assert shown['os_distro'] == 'fedora' and shown['k1'] == 'v1'
    assert sorted(shown['tags']) == ['blue', 'red'] and shown['visibility'] == 'private'
    assert shown['min_disk'] == 2

    cli = osc_json(server, 'image', 'show', created['id'])
    assert cli['id'] == created['id'] and cli['size'] == len(data)
    assert cli['checksum'] == shown['checksum']
    assert cli['properties']['k1'] == 'v1'
    assert osc_json(server, 'image', 'show', name)['id'] == created['id']

    out = tmp_path / 'saved.raw'
    osc(server, 'image', 'save', '--file', str(out), created['id'])
    assert out.read_bytes() == data


def test_osc_list_filters(server, api):
    tag = unique('osc-tag')
    base = unique('osc-list')
    made = {}
    for suffix, props, tags in (('a', {'flavour': 'x'}, [tag]),
                                ('b', {'flavour': 'y'}, [tag, 'other']),
                                ('c', {'flavour': 'x'}, [])):
        made[suffix] = api.create(name='%s-%s' % (base, suffix), tags=tags, **props)['id']

    def ids(*args):
        return [row['ID'] for row in osc_json(server, 'image', 'list', *args)]

    # --name, --tag, --status, --limit and --marker go to the server; osc applies
    # --property and --sort itself, over what the server listed
    assert ids('--name', base + '-b') == [made['b']]
    assert sorted(ids('--tag', tag)) == sorted([made['a'], made['b']])
    assert ids('--tag', tag, '--tag', 'other') == [made['b']]
    assert ids('--tag', tag, '--property', 'flavour=x') == [made['a']]
    assert ids('--tag', tag, '--sort', 'name:desc') == [made['b'], made['a']]
    assert ids('--tag', tag, '--sort', 'name:asc') == [made['a'], made['b']]
    first = ids('--tag', tag, '--limit', '1')
    assert len(first) == 1
    rest = ids('--tag', tag, '--limit', '1', '--marker', first[0])
    assert sorted(first + rest) == sorted([made['a'], made['b']])
    assert made['c'] in ids('--property', 'flavour=x', '--shared')
    assert made['a'] in ids('--status', 'queued')


def test_osc_set_unset_delete(server, api):
    image = api.create(name=unique('osc-set'), k1='v1', k2='v2', tags=['t1'])
    osc(server, 'image', 'set', '--property', 'k3=v3', '--property', 'k1=new', '--tag', 't2',
        '--min-ram', '512', '--protected', '--name', image['name'] + '-y', image['id'])
    shown = api.get('/v2/images/' + image['id']).json()
    assert shown['k1'] == 'new' and shown['k2'] == 'v2' and shown['k3'] == 'v3'
    assert sorted(shown['tags']) == ['t1', 't2'] and shown['min_ram'] == 512
    assert shown['protected'] is True and shown['name'] == image['name'] + '-y'

    osc(server, 'image', 'unset', '--property', 'k2', '--tag', 't1', image['id'])
    shown = api.get('/v2/images/' + image['id']).json()
    assert 'k2' not in shown and shown['tags'] == ['t2'] and shown['k1'] == 'new'

    refused = osc(server, 'image', 'delete', image['id'], check=False)
    assert refused.returncode != 0
    assert api.get('/v2/images/' + image['id']).status_code == 200
    osc(server, 'image', 'set', '--unprotected', image['id'])
    osc(server, 'image', 'delete', image['id'])
    assert api.get('/v2/images/' + image['id']).status_code == 404


def test_osc_deactivate_hidden_long(server, api):
    image = api.create(name=unique('osc-state'))
    assert api.upload(image['id'], b'y' * 4096).status_code == 204
    osc(server, 'image', 'set', '--deactivate', image['id'])
    assert api.get('/v2/images/' + image['id']).json()['status'] == 'deactivated'
    osc(server, 'image', 'set', '--activate', image['id'])
    assert api.get('/v2/images/' + image['id']).json()['status'] == 'active'

    osc(server, 'image', 'set', '--hidden', image['id'])
    assert api.get('/v2/images/' + image['id']).json()['os_hidden'] is True
    listed = [row['ID'] for row in osc_json(server, 'image', 'list')]
    assert image['id'] not in listed
    assert image['id'] in [row['ID'] for row in osc_json(server, 'image', 'list', '--hidden')]
    osc(server, 'image', 'set', '--unhidden', image['id'])
    long = {row['ID']: row for row in osc_json(server, 'image', 'list', '--long')}
    row = long[image['id']]
    assert row['Size'] == 4096 and row['Status'] == 'active'
    assert row['Checksum'] == hashlib.md5(b'y' * 4096).hexdigest()
    assert row['Hash Value'] == hashlib.sha512(b'y' * 4096).hexdigest()


def test_osc_and_glance_unicode(server, api, tmp_path):
    name = unique('ünïcødé-образ-✓')
    data = os.urandom(64 * 1024)
    (tmp_path / 'u.raw').write_bytes(data)
    created = osc_json(server, 'image', 'create', '--file', str(tmp_path / 'u.raw'),
                       '--disk-format', 'raw', '--property', 'déscription=väl✓e',
                       '--tag', 'étiquette', name)
    shown = api.get('/v2/images/' + created['id']).json()
    assert shown['name'] == name and shown['déscription'] == 'väl✓e'
    assert shown['tags'] == ['étiquette']
    assert [row['ID'] for row in osc_json(server, 'image', 'list', '--name', name)] \
        == [created['id']]
    assert created['id'] in glance(server, 'image-list', '--tag', 'étiquette').stdout
    cli = table(glance(server, 'image-show', created['id']).stdout)
    assert cli['name'] == name and cli['déscription'] == 'väl✓e'
