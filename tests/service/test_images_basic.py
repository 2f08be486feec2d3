"""The image life cycle over HTTP: create, upload, download, list, update, delete."""
import hashlib
import os


def test_image_life_cycle(api):
    image = api.create(name='life-cycle', tags=['t1'], os_distro='cirros')
    assert image['status'] == 'queued' and image['visibility'] == 'shared'
    data = os.urandom(3 * 1024 * 1024 + 17)
    assert api.upload(image['id'], data).status_code == 204

    shown = api.get('/v2/images/' + image['id']).json()
    assert shown['status'] == 'active'
    assert shown['size'] == len(data)
    assert shown['checksum'] == hashlib.md5(data).hexdigest()
    assert shown['os_hash_algo'] == 'sha512'
    assert shown['os_hash_value'] == hashlib.sha512(data).hexdigest()

    download = api.get('/v2/images/%s/file' % image['id'])
    assert download.status_code == 200 and download.content == data
    assert download.headers['Content-MD5'] == shown['checksum']

    listed = api.get('/v2/images', params={'name': 'life-cycle'}).json()['images']
    assert [i['id'] for i in listed] == [image['id']]

    assert api.delete('/v2/images/' + image['id']).status_code == 204
    assert api.get('/v2/images/' + image['id']).status_code == 404
