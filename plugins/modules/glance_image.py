#!/usr/bin/python
# Copyright: Glint developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

DOCUMENTATION = r'''
module: glance_image
short_description: Manage images in Glint or OpenStack Glance, idempotently
version_added: 0.1.0
description:
  - Creates, updates, deactivates, reactivates and deletes images through the Images
    API v2 of Glint or any OpenStack Glance.
  - Only what the task sets is managed; an option left out leaves that part of the
    image alone (a missing O(visibility) never makes an image private).
  - The image's data is compared with O(filename) by the image's own multihash
    (C(os_hash_algo) and C(os_hash_value), the md5 C(checksum) when the image has no
    multihash), computed while reading the file in 4 MiB pieces; O(on_content_change)
    decides what a difference means.
  - Uploads stream the file to the service; no image is ever held in memory.
author:
  - Glint developers (@glint)
extends_documentation_fragment:
  - glint.glance.glance
attributes:
  check_mode:
    support: full
    description: Reports the change the task would make, and its diff, without making it.
  diff_mode:
    support: full
    description: >-
      Before and after of the managed metadata, tags, properties, status and data
      digests.
options:
  name:
    description:
      - Name of the image. Finds the image when O(id) is not given (several images
        of that name are an error; give O(id) or O(owner)).
      - With O(id), the name the image must have (the image is renamed).
    type: str
  id:
    description:
      - ID of the image. At creation, the ID the new image gets.
    type: str
  state:
    description:
      - V(present) creates or updates the image and reactivates a deactivated one.
      - V(deactivated) does the same, then deactivates the image (it must have data).
      - V(absent) deletes it.
    type: str
    default: present
    choices: [present, absent, deactivated]
  filename:
    description:
      - Local file (on the host running the module) holding the image's data,
        uploaded at creation and compared with the image's data afterwards.
    type: path
  url:
    description:
      - URL the image service imports the data from (the interoperable import's
        C(web-download) method) when the image has no data yet.
      - The module asks C(GET /v2/info/import) first and fails, before changing
        anything, when the service does not offer C(web-download) (Glint offers
        no import method yet).
    type: str
    aliases: [uri]
  use_import:
    description:
      - Send O(filename) through the interoperable import (C(glance-direct), i.e. stage
        then import) instead of a plain upload. Needs a service that offers
        C(glance-direct) (checked first, as for O(url)).
    type: bool
    default: false
  on_content_change:
    description:
      - What to do when the image has data and it differs from O(filename), or when
        O(disk_format) or O(container_format) differ (Glance changes those only
        before an image has data).
      - V(fail) fails the task and changes nothing.
      - V(keep) keeps the image's data and formats and manages the rest.
      - V(replace) creates a new image with the same name and metadata (the task's
        applied), uploads O(filename), waits until it is active, then deletes the
        old image. The new image has a new ID, so this needs O(name) without
        O(id), and refuses a protected old image. Members of the old image are
        not copied.
    type: str
    default: fail
    choices: [fail, keep, replace]
  disk_format:
    description:
      - Disk format (C(qcow2), C(raw), C(vmdk), C(iso), ...). V(qcow2) at creation
        when data is given and this is not.
    type: str
  container_format:
    description:
      - Container format (C(bare), C(ovf), ...). V(bare) at creation when data is
        given and this is not.
    type: str
  visibility:
    description:
      - Who may see the image. Left alone when not given; at creation the service
        picks its default (C(shared) in Glance).
    type: str
    choices: [public, private, shared, community]
  protected:
    description:
      - Whether the image is protected from deletion.
      - With O(state=absent), V(false) unprotects a protected image before deleting it.
    type: bool
    aliases: [is_protected]
  min_disk:
    description: Minimum disk size in GB a server booted from the image needs.
    type: int
  min_ram:
    description: Minimum RAM in MB a server booted from the image needs.
    type: int
  hidden:
    description: Whether the image is hidden from the default image list (C(os_hidden)).
    type: bool
  owner:
    description:
      - Project that owns the image, by ID, or by name when the caller may look
        projects up in Keystone (a name fails otherwise).
    type: str
    aliases: [project]
  properties:
    description:
      - Custom properties. Values are sent as strings (Glance stores strings;
        booleans become V(true) / V(false)), so a second run compares equal.
      - Image attributes (C(min_ram), C(visibility), ...) are refused here; use
        their options.
    type: dict
  purge_properties:
    description:
      - Remove the custom properties that O(properties) does not list (never
        C(kernel_id) / C(ramdisk_id), which O(kernel) / O(ramdisk) manage, nor
        Glance's read-only C(os_glance_*)).
      - Ignored when O(properties) is not given.
      - Off by default, unlike O(purge_tags), because services and tools write
        properties of their own (Nova's snapshot metadata, image signatures,
        openstacksdk's C(owner_specified.*)) that a playbook rarely lists.
    type: bool
    default: false
  tags:
    description: Tags the image must have.
    type: list
    elements: str
  purge_tags:
    description:
      - Remove the tags that O(tags) does not list (O(tags=[]) removes all), so
        O(tags) is the image's whole set, as in amazon.aws. V(false) only adds.
      - Ignored when O(tags) is not given.
    type: bool
    default: true
  kernel:
    description: Kernel image (name or ID); sets the C(kernel_id) property.
    type: str
  ramdisk:
    description: Ramdisk image (name or ID); sets the C(ramdisk_id) property.
    type: str
  stores:
    description:
      - Stores of a multi-store service to put the data into. A plain upload
        goes to one store; more need O(use_import).
      - The service must list them in C(GET /v2/info/stores) (checked first).
    type: list
    elements: str
  wait:
    description:
      - Wait until an image with new data is active (and a deleted one gone).
    type: bool
    default: true
  timeout:
    description: Seconds to wait.
    type: int
    default: 180
'''

EXAMPLES = r'''
- name: An image from a local file, on Glint's embedded default (no auth)
  glint.glance.glance_image:
    auth_type: none
    endpoint: http://127.0.0.1:9292
    name: cirros-0.6.2
    filename: /srv/images/cirros-0.6.2-x86_64-disk.img
    disk_format: qcow2
    visibility: public
    tags: [cirros]
    properties:
      hw_disk_bus: virtio
      hw_qemu_guest_agent: true

- name: Exactly these properties and tags (others removed)
  glint.glance.glance_image:
    cloud: mycloud
    name: cirros-0.6.2
    properties:
      os_distro: cirros
    purge_properties: true
    tags: [cirros, tested]

- name: A new build of the file replaces the image of that name
  glint.glance.glance_image:
    cloud: mycloud
    name: ubuntu-24.04
    filename: /srv/images/noble-server-cloudimg-amd64.img
    on_content_change: replace

- name: Deactivate an image
  glint.glance.glance_image:
    cloud: mycloud
    name: ubuntu-22.04
    state: deactivated

- name: Delete it
  glint.glance.glance_image:
    cloud: mycloud
    name: ubuntu-22.04
    state: absent
'''

RETURN = r'''
image:
  description:
    - The image as the Images API v2 shows it (C(GET /v2/images/{id})), custom
      properties included. In check mode the image as it is now.
    - Absent (V(null)) after O(state=absent), and in check mode for an image to create.
  returned: always
  type: dict
  sample:
    id: 6a8b5a4e-8e3c-4c8e-9d2f-0b0f1b8e3c11
    name: cirros-0.6.2
    status: active
    visibility: public
    protected: false
    os_hidden: false
    disk_format: qcow2
    container_format: bare
    size: 21430272
    checksum: c8fc807773e5354afe61636071771906
    os_hash_algo: sha512
    os_hash_value: "1103b92ce8ad966e41235a4de260deb791ff571670c0342666c8582fbb9caefe6af0\
      7ebb11d34f44f8414b609b29c1bdf1d72ffa6faa39c88e8721d09847952b"
    min_disk: 0
    min_ram: 0
    owner: 2b1e3c4d5f6a7b8c9d0e1f2a3b4c5d6e
    tags: [cirros]
    hw_disk_bus: virtio
replaced_image_id:
  description: ID of the image that O(on_content_change=replace) replaced (and deleted).
  returned: when an image was replaced
  type: str
diff:
  description:
    - Before and after of the managed view (attributes, C(tags), C(properties),
      C(status), C(size) and digests); V({}) for no image. In check mode the
      digests of data still to upload are V(null).
  returned: always
  type: dict
'''

import os  # noqa: E402 (Ansible modules document themselves before their imports)

from ansible_collections.glint.glance.plugins.module_utils.glance import (  # noqa: E402
    DEFAULT_FORMATS,
    FORMAT_ATTRIBUTES,
    Failure,
    GlanceError,
    GlanceModule,
    apply_patch,
    content_action,
    content_matches,
    creation_body,
    custom_properties,
    desired_attributes,
    desired_properties,
    image_attributes,
    managed_view,
    misplaced_properties,
    plan_patch,
)

OPTIONS = dict(
    name=dict(type='str'),
    id=dict(type='str'),
    state=dict(type='str', default='present', choices=['present', 'absent', 'deactivated']),
    filename=dict(type='path'),
    url=dict(type='str', aliases=['uri']),
    use_import=dict(type='bool', default=False),
    on_content_change=dict(type='str', default='fail', choices=['fail', 'keep', 'replace']),
    disk_format=dict(type='str'),
    container_format=dict(type='str'),
    visibility=dict(type='str', choices=['public', 'private', 'shared', 'community']),
    protected=dict(type='bool', aliases=['is_protected']),
    min_disk=dict(type='int'),
    min_ram=dict(type='int'),
    hidden=dict(type='bool'),
    owner=dict(type='str', aliases=['project']),
    properties=dict(type='dict'),
    purge_properties=dict(type='bool', default=False),
    tags=dict(type='list', elements='str'),
    purge_tags=dict(type='bool', default=True),
    kernel=dict(type='str'),
    ramdisk=dict(type='str'),
    stores=dict(type='list', elements='str'),
    wait=dict(type='bool', default=True),
    timeout=dict(type='int', default=180),
)


class ImageTask(GlanceModule):
    argument_spec = OPTIONS
    module_kwargs = dict(required_one_of=[('name', 'id')],
                         mutually_exclusive=[('filename', 'url')])

    # -------------------------------------------------------------- lookups
    def find(self):
        params = self.params
        if params['id']:
            return self.client.get_image(params['id'])
        images = self.client.find_images(params['name'])
        if params['owner'] and len(images) > 1:
            owner = self.client.project_id(params['owner'])
            images = [i for i in images if i.get('owner') == owner]
        if len(images) > 1:
            raise Failure('%d images are named %s (%s): give id or owner'
                          % (len(images), params['name'], ', '.join(i['id'] for i in images)))
        return images[0] if images else None

    def image_id_of(self, name_or_id, option):
        images = self.client.find_images(name_or_id)
        if len(images) != 1:
            raise Failure('%s %s: %d images match, need exactly one'
                          % (option, name_or_id, len(images)))
        return images[0]['id']

    def check_service(self):
        """Fail before any change when the service lacks what the task needs."""
        params = self.params
        if params['filename'] and not os.path.isfile(params['filename']):
            raise Failure('filename %s: no such file' % params['filename'])
        method = None
        if params['url']:
            method = 'web-download'
        elif params['use_import'] and params['filename']:
            method = 'glance-direct'
        if method and method not in self.client.import_methods():
            raise Failure('the image service does not offer the %s import method '
                          '(GET /v2/info/import lists: %s)'
                          % (method, ', '.join(self.client.import_methods()) or 'none'))
        stores = params['stores'] or []
        if len(stores) > 1 and not params['use_import']:
            raise Failure('a plain upload goes to one store; give one store or use_import')
        if stores:
            try:
                known = [s['id'] for s in
                         self.client.json('GET', '/info/stores').get('stores', [])]
            except GlanceError as e:
                raise Failure('stores given, but the image service has no multiple stores '
                              '(%s)' % e)
            unknown = sorted(set(stores) - set(known))
            if unknown:
                raise Failure('unknown stores %s (the service has %s)'
                              % (', '.join(unknown), ', '.join(known)))

    # -------------------------------------------------------------- desired state
    def desired(self):
        params = self.params
        misplaced = misplaced_properties(params['properties'])
        if misplaced:
            raise Failure('properties holds image attributes %s: use their options'
                          % ', '.join(misplaced))
        attributes = desired_attributes(params)
        if 'owner' in attributes:
            attributes['owner'] = self.client.project_id(attributes['owner'])
        kernel = params['kernel'] and self.image_id_of(params['kernel'], 'kernel')
        ramdisk = params['ramdisk'] and self.image_id_of(params['ramdisk'], 'ramdisk')
        return attributes, desired_properties(params, kernel, ramdisk)

    # -------------------------------------------------------------- data
    def put_data(self, image_id):
        """Upload or import the task's data into a new / queued image, then wait."""
        params = self.params
        stores = params['stores']
        if params['url'] or params['use_import']:
            if params['url']:
                method = {'name': 'web-download', 'uri': params['url']}
            else:
                with open(params['filename'], 'rb') as data:
                    self.client.call('PUT', '/images/%s/stage' % image_id, expect=(204,),
                                     data=data,
                                     headers={'Content-Type': 'application/octet-stream'})
                method = {'name': 'glance-direct'}
            body = {'method': method}
            if stores:
                body['stores'] = stores
            self.client.call('POST', '/images/%s/import' % image_id, expect=(202,), json=body)
        else:
            self.client.upload(image_id, params['filename'], stores[0] if stores else None)
        if params['wait']:
            return self.client.wait_for(image_id, ('active',), params['timeout'])
        return self.client.get_image(image_id)

    def has_data_source(self):
        return bool(self.params['filename'] or self.params['url'])

    def predicted_data(self, image):
        """An image as it will be once the task's data is in (check mode, diffs)."""
        predicted = dict(image, status='active', checksum=None, os_hash_algo=None,
                         os_hash_value=None)
        predicted['size'] = (os.path.getsize(self.params['filename'])
                             if self.params['filename'] else None)
        return predicted

    @staticmethod
    def check_can_deactivate(image):
        if image['status'] not in ('active', 'deactivated'):
            raise Failure('image %s is %s: only an image with data can be deactivated'
                          % (image.get('id') or image.get('name'), image['status']))

    def set_status(self, image, want):
        """Deactivate / reactivate image to want ('active' or 'deactivated')."""
        if image['status'] != want:
            self.client.set_active(image['id'], want == 'active')

    def purge_properties(self):
        """Purge only against a given properties dict (as purge_tags with tags)."""
        return self.params['purge_properties'] and self.params['properties'] is not None

    def want_status(self):
        return 'deactivated' if self.params['state'] == 'deactivated' else 'active'

    # -------------------------------------------------------------- states
    def create(self, attributes, properties):
        params = self.params
        body = creation_body(params, attributes, properties, params['tags'])
        predicted = dict(body, status='queued', tags=body.get('tags', []))
        if self.has_data_source():
            predicted = self.predicted_data(predicted)
        if params['state'] == 'deactivated':
            self.check_can_deactivate(predicted)
            predicted['status'] = 'deactivated'
        if self.check:
            return self.result(True, None, managed_view(predicted), image=None)
        image = self.client.create_image(body)
        if self.has_data_source():
            image = self.put_data(image['id'])
        if params['state'] == 'deactivated':
            self.set_status(image, 'deactivated')
        image = self.client.get_image(image['id'])
        return self.result(True, None, managed_view(image), image=image)

    def update(self, image, attributes, properties):
        params = self.params
        formats_differ = image['status'] != 'queued' and any(
            attr in attributes and attributes[attr] != image.get(attr)
            for attr in FORMAT_ATTRIBUTES)
        has_file = bool(params['filename'])
        matches = has_file and image['status'] != 'queued' and content_matches(
            image, params['filename'], os.path.getsize(params['filename']))
        action = content_action(image, has_file or bool(params['url']), matches,
                                formats_differ, params['on_content_change'])
        if action == 'fail':
            what = ('its data differs from %s' % params['filename']
                    if has_file and not matches else
                    'its disk_format / container_format differ from the task\'s')
            raise Failure('image %s (%s): %s; on_content_change=fail changes nothing '
                          '(choose replace or keep)' % (image['name'], image['id'], what))
        if action == 'replace':
            return self.replace(image, attributes, properties)
        if image['status'] != 'queued':
            for attr in FORMAT_ATTRIBUTES:  # the data's formats: kept (or equal)
                attributes.pop(attr, None)
        elif action == 'upload':  # Glance needs both formats before data
            for attr, default in DEFAULT_FORMATS.items():
                if not image.get(attr):
                    attributes.setdefault(attr, default)
        ops = plan_patch(image, attributes, properties, params['tags'],
                         self.purge_properties(), params['purge_tags'])
        predicted = apply_patch(image, ops)
        if action == 'upload':
            predicted = self.predicted_data(predicted)
        if params['state'] == 'deactivated':
            self.check_can_deactivate(predicted)
        if predicted['status'] in ('active', 'deactivated'):
            predicted = dict(predicted, status=self.want_status())
        changed = bool(ops) or action == 'upload' or predicted['status'] != image['status']
        before = managed_view(image)
        if self.planned_only(changed):
            return self.result(changed, before, managed_view(predicted), image=image)
        if ops:
            self.client.patch_image(image['id'], ops)
        if action == 'upload':
            self.put_data(image['id'])
        current = self.client.get_image(image['id'])
        if current['status'] in ('active', 'deactivated'):
            self.set_status(current, self.want_status())
        image = self.client.get_image(image['id'])
        return self.result(True, before, managed_view(image), image=image)

    def replace(self, old, attributes, properties):
        params = self.params
        if not params['filename']:
            raise Failure('on_content_change=replace needs filename (the new data)')
        if params['id']:
            raise Failure('on_content_change=replace makes an image with a new ID: '
                          'find the image by name, not id')
        if old.get('protected'):
            raise Failure('image %s is protected: it cannot be replaced (deleted); '
                          'unprotect it first' % old['id'])
        ops = plan_patch(old, attributes, properties, params['tags'],
                         self.purge_properties(), params['purge_tags'])
        merged = apply_patch(old, ops)
        body = creation_body(params, image_attributes(merged),
                             custom_properties(merged), merged.get('tags'))
        body.pop('id', None)
        predicted = self.predicted_data(dict(body, tags=body.get('tags', [])))
        predicted['status'] = self.want_status()
        if self.check:
            return self.result(True, managed_view(old), managed_view(predicted), image=old)
        new = self.client.create_image(body)
        try:
            new = self.put_data(new['id'])
            if new['status'] != 'active':
                raise GlanceError('new image %s is %s, not active: old image kept'
                                  % (new['id'], new['status']))
        except Exception:
            self.client.delete_image(new['id'])  # never leave two images of one name
            raise
        self.set_status(new, self.want_status())
        self.client.delete_image(old['id'])
        new = self.client.get_image(new['id'])
        return self.result(True, managed_view(old), managed_view(new), image=new,
                           replaced_image_id=old['id'])

    def absent(self, image):
        if image is None:
            return self.result(False, None, None, image=None)
        deleted = self.result(True, managed_view(image), None, image=None)
        if image.get('protected') and self.params['protected'] is not False:
            raise Failure('image %s is protected: set protected: false to delete it'
                          % image['id'])
        if self.check:
            return deleted
        if image.get('protected'):
            self.client.patch_image(image['id'], [
                {'op': 'replace', 'path': '/protected', 'value': False}])
        self.client.delete_image(image['id'])
        if self.params['wait']:
            self.client.wait_for(image['id'], (None,), self.params['timeout'])
        return deleted

    def run(self):
        if self.params['state'] == 'absent':
            return self.absent(self.find())
        self.check_service()
        attributes, properties = self.desired()
        image = self.find()
        if image is None:
            return self.create(attributes, properties)
        return self.update(image, attributes, properties)


def main():
    ImageTask().execute()


if __name__ == '__main__':
    main()
