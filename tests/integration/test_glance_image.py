"""glance_image and glance_image_info against a real Glint (no authentication).

Each case: check mode predicts the change and makes none, the first run changes,
the second run changes nothing, and the diff shows before / after."""
import hashlib

import pytest
import requests

from tests.integration.conftest import Ansible, unique
from tests.service.server import GlintServer


def image_task(check=False, **args):
    task = {'glint.glance.glance_image': args}
    if check:
        task['check_mode'] = True
    return task


def info_task(**args):
    return {'glint.glance.glance_image_info': args}


def api_images(glint, name):
    """Images of that name as the API shows them (hidden ones too)."""
    found = []
    for hidden in ('false', 'true'):
        response = requests.get(glint.url + '/v2/images',
                                params={'name': name, 'os_hidden': hidden}, timeout=30)
        response.raise_for_status()
        found += response.json()['images']
    return found


def api_image(glint, image_id):
    response = requests.get('%s/v2/images/%s' % (glint.url, image_id), timeout=30)
    return response.json() if response.status_code == 200 else None


def assert_ok(result):
    assert not result.get('failed'), result.get('msg')


@pytest.fixture
def files(tmp_path):
    one, two = tmp_path / 'one.img', tmp_path / 'two.img'
    one.write_bytes(b'first image data ' * 1000)
    two.write_bytes(b'second image data ' * 1000)
    return one, two


def test_create_check_idempotent_and_diff(ansible, glint, files):
    name = unique('create')
    args = dict(name=name, filename=str(files[0]), disk_format='raw',
                properties={'hw_qemu_guest_agent': True, 'hw_vif_multiqueue_enabled': 1},
                tags=['cirros', 'test'])
    check, info, first, second, check_again = ansible.run([
        image_task(check=True, **args), info_task(image=name),
        image_task(**args), image_task(**args), image_task(check=True, **args)])
    for result in (check, first, second, check_again):
        assert_ok(result)
    # Check mode predicts the creation, and nothing exists afterwards.
    assert check['changed'] is True and check['image'] is None
    assert check['diff']['before'] == {}
    assert check['diff']['after']['properties'] == {
        'hw_qemu_guest_agent': 'true', 'hw_vif_multiqueue_enabled': '1'}
    assert check['diff']['after']['size'] == files[0].stat().st_size
    assert info['images'] == []
    # The first run creates and uploads; the image is returned as the API shows it.
    assert first['changed'] is True
    image = first['image']
    assert image == api_image(glint, image['id'])
    assert image['status'] == 'active' and image['disk_format'] == 'raw'
    assert image['container_format'] == 'bare'
    assert image['os_hash_algo'] == 'sha512'
    assert image['os_hash_value'] == hashlib.sha512(files[0].read_bytes()).hexdigest()
    assert image['hw_qemu_guest_agent'] == 'true'
    assert sorted(image['tags']) == ['cirros', 'test']
    # No visibility given: the service's default (shared), never a forced private.
    assert image['visibility'] == 'shared'
    assert first['diff']['after']['os_hash_value'] == image['os_hash_value']
    # Second run and check mode: same content (multihash), same properties: no change.
    assert second['changed'] is False and second['image']['id'] == image['id']
    assert second['diff']['before'] == second['diff']['after']
    assert check_again['changed'] is False
    assert len(api_images(glint, name)) == 1


def test_update_and_purge(ansible, glint):
    name = unique('purge')
    create = dict(name=name, visibility='public', min_ram=128,
                  properties={'os_distro': 'cirros', 'hw_disk_bus': 'virtio'},
                  tags=['a', 'b'])
    # Without purge: properties and tags are added to, and visibility (not given) stays.
    update = dict(name=name, min_ram=256, properties={'os_distro': 'ubuntu'}, tags=['c'],
                  purge_tags=False)
    # purge_tags is on by default; purge_properties is asked for.
    purge = dict(name=name, properties={'os_distro': 'ubuntu'}, purge_properties=True,
                 tags=['c'])
    results = ansible.run([
        image_task(**create),
        image_task(check=True, **update), info_task(image=name),
        image_task(**update), image_task(**update),
        image_task(check=True, **purge), info_task(image=name),
        image_task(**purge), image_task(**purge),
    ])
    for result in results:
        assert_ok(result)
    created, check, info1, updated, again, pcheck, info2, purged, pagain = results
    assert created['changed'] and created['image']['visibility'] == 'public'
    # Update, check mode first: predicted, not made.
    assert check['changed'] is True
    assert check['diff']['after']['min_ram'] == 256
    assert check['diff']['after']['properties'] == {'os_distro': 'ubuntu',
                                                    'hw_disk_bus': 'virtio'}
    assert check['diff']['after']['tags'] == ['a', 'b', 'c']
    assert info1['images'][0]['min_ram'] == 128 and info1['images'][0]['os_distro'] == 'cirros'
    assert updated['changed'] is True
    image = updated['image']
    assert image['min_ram'] == 256 and image['os_distro'] == 'ubuntu'
    assert image['hw_disk_bus'] == 'virtio' and sorted(image['tags']) == ['a', 'b', 'c']
    assert image['visibility'] == 'public'
    assert updated['diff']['before']['min_ram'] == 128
    assert again['changed'] is False
    # Purge, check mode first.
    assert pcheck['changed'] is True
    assert pcheck['diff']['after']['properties'] == {'os_distro': 'ubuntu'}
    assert pcheck['diff']['after']['tags'] == ['c']
    assert info2['images'][0]['hw_disk_bus'] == 'virtio'
    assert purged['changed'] is True
    assert 'hw_disk_bus' not in purged['image'] and purged['image']['tags'] == ['c']
    assert 'hw_disk_bus' not in api_image(glint, image['id'])
    assert pagain['changed'] is False


def test_on_content_change(ansible, glint, files):
    one, two = files
    name = unique('content')
    base = dict(name=name, disk_format='raw', properties={'build': '1'})
    results = ansible.run([
        image_task(filename=str(one), **base),
        image_task(filename=str(two), **base),  # default: fail
        info_task(image=name),
        image_task(filename=str(two), on_content_change='keep', **base),
        image_task(check=True, filename=str(two), on_content_change='replace', **base),
        info_task(image=name),
        image_task(filename=str(two), on_content_change='replace',
                   **dict(base, properties={'build': '2'})),
        image_task(filename=str(two), on_content_change='replace',
                   **dict(base, properties={'build': '2'})),
        image_task(filename=str(two), disk_format='qcow2', name=name),  # format differs
    ])
    created, fail, after_fail, keep, check, info, replaced, again, formats = results
    assert_ok(created)
    old = created['image']
    # fail: the task fails, says why, and changes nothing.
    assert fail['failed'] and 'differs from %s' % two in fail['msg']
    assert after_fail['images'] == [old]
    # keep: the old data stays, nothing else to change.
    assert_ok(keep)
    assert keep['changed'] is False and keep['image']['id'] == old['id']
    # replace, check mode: predicted, and only the old image exists.
    assert_ok(check)
    assert check['changed'] is True
    assert check['diff']['before']['os_hash_value'] == old['os_hash_value']
    assert check['diff']['after']['size'] == two.stat().st_size
    assert [i['id'] for i in info['images']] == [old['id']]
    # replace: a new image with the new data and metadata; the old one is gone.
    assert_ok(replaced)
    new = replaced['image']
    assert replaced['changed'] is True and replaced['replaced_image_id'] == old['id']
    assert new['id'] != old['id'] and new['status'] == 'active'
    assert new['os_hash_value'] == hashlib.sha512(two.read_bytes()).hexdigest()
    assert new['build'] == '2' and new['disk_format'] == 'raw'
    assert new['visibility'] == old['visibility']
    assert api_image(glint, old['id']) is None
    assert [i['id'] for i in api_images(glint, name)] == [new['id']]
    assert replaced['diff']['after']['os_hash_value'] == new['os_hash_value']
    assert_ok(again)
    assert again['changed'] is False and again['image']['id'] == new['id']
    # A disk_format that differs from an active image's is a content change too.
    assert formats['failed'] and 'disk_format' in formats['msg']


def test_states_deactivated_present_absent(ansible, glint, files):
    name = unique('states')
    base = dict(name=name, filename=str(files[0]), disk_format='raw')
    results = ansible.run([
        image_task(**base),
        image_task(check=True, state='deactivated', **base),
        image_task(state='deactivated', **base),
        image_task(state='deactivated', **base),
        image_task(state='present', name=name),            # reactivates
        image_task(name=name, protected=True),
        image_task(name=name, state='absent'),            # protected: refused
        image_task(check=True, name=name, state='absent', protected=False),
        image_task(name=name, state='absent', protected=False),
        image_task(name=name, state='absent'),
        image_task(name=unique('no-data'), state='deactivated'),
    ])
    created, check, deact, deact2, react, prot, refused, acheck, absent, absent2, nodata = results
    image_id = created['image']['id']
    assert check['changed'] and check['diff']['after']['status'] == 'deactivated'
    assert check['image']['status'] == 'active'
    assert deact['changed'] and deact['image']['status'] == 'deactivated'
    assert deact2['changed'] is False
    assert react['changed'] and react['image']['status'] == 'active'
    assert react['diff']['before']['status'] == 'deactivated'
    assert prot['changed'] and prot['image']['protected'] is True
    assert refused['failed'] and 'protected' in refused['msg']
    assert acheck['changed'] and acheck['diff']['after'] == {}
    assert acheck['diff']['before']['name'] == name
    assert absent['changed'] and absent['image'] is None
    assert api_image(glint, image_id) is None
    assert absent2['changed'] is False
    assert nodata['failed'] and 'only an image with data' in nodata['msg']


def test_hidden_image_is_found_again(ansible, glint):
    name = unique('hidden')
    first, second = ansible.run([image_task(name=name, hidden=True),
                                 image_task(name=name, hidden=True)])
    assert_ok(first)
    assert first['changed'] and first['image']['os_hidden'] is True
    assert second['changed'] is False and len(api_images(glint, name)) == 1


def test_rename_by_id_kernel_ramdisk_and_owner(ansible, glint):
    name, kernel, ramdisk = unique('boot'), unique('kernel'), unique('ramdisk')
    image_id = '8f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b'
    renamed = name + '-renamed'
    results = ansible.run([
        image_task(name=kernel), image_task(name=ramdisk),
        image_task(name=name, id=image_id, kernel=kernel, ramdisk=ramdisk,
                   owner='2b1e3c4d5f6a7b8c9d0e1f2a3b4c5d6e'),
        image_task(id=image_id, name=renamed),
        image_task(id=image_id, name=renamed, kernel=kernel, ramdisk=ramdisk),
    ])
    for result in results:
        assert_ok(result)
    k, r, created, rename, again = results
    assert created['image']['id'] == image_id
    assert created['image']['kernel_id'] == k['image']['id']
    assert created['image']['ramdisk_id'] == r['image']['id']
    assert created['image']['owner'] == '2b1e3c4d5f6a7b8c9d0e1f2a3b4c5d6e'
    assert rename['changed'] and rename['image']['name'] == renamed
    assert rename['diff']['before']['name'] == name
    assert again['changed'] is False


def test_what_the_service_lacks_fails_before_any_change(ansible, glint, files):
    name = unique('import')
    url, use_import, stores, misplaced, missing, info = ansible.run([
        image_task(name=name, url='http://127.0.0.1:1/image.img'),
        image_task(name=name, filename=str(files[0]), use_import=True),
        image_task(name=name, filename=str(files[0]), stores=['fast']),
        image_task(name=name, properties={'min_ram': 1}),
        image_task(name=name, filename=str(files[0]) + '.missing'),
        info_task(image=name),
    ])
    assert url['failed'] and 'web-download' in url['msg']
    assert 'GET /v2/info/import' in url['msg']
    assert use_import['failed'] and 'glance-direct' in use_import['msg']
    assert stores['failed'] and 'no multiple stores' in stores['msg']
    assert misplaced['failed'] and 'min_ram' in misplaced['msg']
    assert missing['failed'] and 'no such file' in missing['msg']
    assert info['images'] == [] and api_images(glint, name) == []


def test_info_pages_through_all_results(ansible, glint):
    tag = unique('page')
    tasks = [image_task(name='%s-%d' % (tag, i), tags=[tag]) for i in range(5)]
    tasks.append(info_task(filters={'tag': [tag]}, page_size=2))
    tasks.append(info_task(filters={'tag': [tag], 'sort': 'name:asc'}, page_size=10))
    *created, paged, single = ansible.run(tasks)
    assert all(r['changed'] for r in created)
    assert sorted(i['name'] for i in paged['images']) == ['%s-%d' % (tag, i) for i in range(5)]
    assert [i['name'] for i in single['images']] == ['%s-%d' % (tag, i) for i in range(5)]


def test_content_compared_with_the_services_hash_algorithm(collections_path, files, tmp_path):
    """A service hashing with sha256: the module hashes the file with the image's
    os_hash_algo, so equal data is equal and different data differs."""
    one, two = files
    name = unique('sha256')
    with GlintServer(overrides={'DEFAULT': {'hashing_algorithm': 'sha256'}}) as server:
        runner = Ansible(collections_path, tmp_path, {'auth_type': 'none',
                                                      'endpoint': server.url})
        created, same, other = runner.run([
            image_task(name=name, filename=str(one)),
            image_task(name=name, filename=str(one)),
            image_task(name=name, filename=str(two)),
        ])
    assert created['image']['os_hash_algo'] == 'sha256'
    assert created['image']['os_hash_value'] == hashlib.sha256(one.read_bytes()).hexdigest()
    assert same['changed'] is False and not same.get('failed')
    assert other['failed'] and 'differs' in other['msg']
