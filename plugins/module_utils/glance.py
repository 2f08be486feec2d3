# Copyright: Glint developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Shared code of the glint.glance image modules.

The connection comes from openstacksdk (clouds.yaml, an auth dict, or no auth with an
endpoint), but the modules speak the Images API v2 directly through the SDK's image
adapter: they send exactly the JSON patch they planned and return each image exactly as
the API shows it.  GlanceModule is what every module shares around its own work; the
planning functions below are pure, so unit tests drive them without a server.
"""


import hashlib
import json
import re
import time

from ansible.module_utils.basic import AnsibleModule

try:
    import openstack
    HAS_OPENSTACKSDK = True
    OPENSTACKSDK_IMPORT_ERROR = None
except ImportError as e:  # the modules fail with missing_required_lib
    HAS_OPENSTACKSDK = False
    OPENSTACKSDK_IMPORT_ERROR = e

# Where a Glint deployed with the collection's defaults listens (no authentication).
EMBEDDED_ENDPOINT = 'http://127.0.0.1:9292'
PATCH_TYPE = 'application/openstack-images-v2.1-json-patch'
CHUNK = 4 * 1024 * 1024

CONNECTION_SPEC = dict(
    cloud=dict(type='raw'),
    auth=dict(type='dict', no_log=True),
    auth_type=dict(type='str'),
    region_name=dict(type='str'),
    interface=dict(type='str', default='public', choices=['public', 'internal', 'admin'],
                   aliases=['endpoint_type']),
    validate_certs=dict(type='bool', aliases=['verify']),
    ca_cert=dict(type='path', aliases=['cacert']),
    client_cert=dict(type='path', aliases=['cert']),
    client_key=dict(type='path', no_log=False, aliases=['key']),
    api_timeout=dict(type='int'),
    endpoint=dict(type='str'),
)

# Attributes every image has (Glance's base schema and what the API adds); all other
# keys of an image are its custom properties.
BASE_ATTRIBUTES = frozenset((
    'id', 'name', 'status', 'visibility', 'protected', 'os_hidden', 'checksum',
    'os_hash_algo', 'os_hash_value', 'owner', 'size', 'virtual_size', 'min_ram',
    'min_disk', 'disk_format', 'container_format', 'created_at', 'updated_at', 'tags',
    'self', 'file', 'schema', 'direct_url', 'locations', 'stores',
))
# Custom properties that options of their own manage (kernel / ramdisk), never purged.
OPTION_PROPERTIES = frozenset(('kernel_id', 'ramdisk_id'))
# Module option -> image attribute, for the plain attributes a PATCH can replace.
ATTRIBUTE_OPTIONS = (
    ('name', 'name'), ('visibility', 'visibility'), ('protected', 'protected'),
    ('min_disk', 'min_disk'), ('min_ram', 'min_ram'), ('hidden', 'os_hidden'),
    ('owner', 'owner'), ('disk_format', 'disk_format'),
    ('container_format', 'container_format'),
)
MANAGED_ATTRIBUTES = tuple(pair[1] for pair in ATTRIBUTE_OPTIONS)
# Glance lets these change only while an image has no data.
FORMAT_ATTRIBUTES = ('disk_format', 'container_format')
# The formats an image with data gets when the task gives none (as openstack.cloud.image).
DEFAULT_FORMATS = {'disk_format': 'qcow2', 'container_format': 'bare'}
UUID = re.compile(r'^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$')
# Keystone project IDs: hex UUIDs (32), or longer hex digests from identity back ends.
PROJECT_ID = re.compile(r'^([0-9a-fA-F]{32,64}|[0-9a-fA-F-]{36})$')


class GlanceError(Exception):
    """An Images API call that did not answer as expected."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class Failure(Exception):
    """A reason to fail the task before (or instead of) changing anything."""


def glance_argument_spec(**module_spec):
    spec = dict(CONNECTION_SPEC)
    spec.update(module_spec)
    return spec


class GlanceModule:
    """The base of the image modules: the AnsibleModule with the connection options,
    the client, check mode, and one mapping of errors to a failed task (a Failure's
    message; a GlanceError's message and HTTP status).

    A module sets ``argument_spec`` (its own options) and, when it has them,
    ``module_kwargs`` (required_one_of, mutually_exclusive, ...), and implements
    ``run()``, which returns the module's result (``changed`` and its return values).
    """

    argument_spec = {}
    module_kwargs = {}

    def __init__(self):
        self.module = AnsibleModule(argument_spec=glance_argument_spec(**self.argument_spec),
                                    supports_check_mode=True, **self.module_kwargs)
        self.params = self.module.params
        self.check = self.module.check_mode
        self.client = connect(self.module)

    def run(self):
        raise NotImplementedError

    def planned_only(self, changed):
        """Whether the task stops at its plan: check mode, or nothing to change."""
        return self.check or not changed

    @staticmethod
    def result(changed, before, after, **values):
        """The module's result, with the diff of two views (None: nothing, {})."""
        return dict(values, changed=changed, diff={'before': before or {}, 'after': after or {}})

    def execute(self):
        """Run the module and exit with its result, or fail the task."""
        try:
            result = self.run()
        except Failure as e:
            self.module.fail_json(msg=str(e))
        except GlanceError as e:
            self.module.fail_json(msg=str(e), status=e.status)
        self.module.exit_json(**result)


# ---------------------------------------------------------------- connection

def connection_kwargs(params):
    """openstack.connect() keyword arguments for the connection options."""
    cloud = params.get('cloud')
    kwargs = dict(cloud.items()) if isinstance(cloud, dict) else {}
    if isinstance(cloud, str):
        kwargs['cloud'] = cloud
    explicit = dict(
        auth=params.get('auth'), auth_type=params.get('auth_type'),
        region_name=params.get('region_name'), verify=params.get('validate_certs'),
        cacert=params.get('ca_cert'), cert=params.get('client_cert'),
        key=params.get('client_key'), api_timeout=params.get('api_timeout'),
    )
    kwargs.update((k, v) for k, v in explicit.items() if v is not None)
    kwargs.setdefault('interface', params.get('interface') or 'public')
    endpoint = params.get('endpoint')
    if kwargs.get('auth_type') in ('none', 'noauth'):
        # keystoneauth's "none" plugin needs the endpoint; default: the embedded Glint.
        endpoint = endpoint or (kwargs.get('auth') or {}).get('endpoint') or EMBEDDED_ENDPOINT
        kwargs['auth_type'] = 'none'
        kwargs['auth'] = dict(kwargs.get('auth') or {}, endpoint=endpoint)
    if endpoint:
        kwargs['image_endpoint_override'] = endpoint
    kwargs['app_name'] = 'glint.glance'
    return kwargs


def connect(module):
    """A GlanceClient for the module's connection options (fails the module on error)."""
    if not HAS_OPENSTACKSDK:
        from ansible.module_utils.basic import missing_required_lib
        module.fail_json(msg=missing_required_lib('openstacksdk'),
                         exception=str(OPENSTACKSDK_IMPORT_ERROR))
    try:
        kwargs = connection_kwargs(module.params)
        conn = openstack.connect(**kwargs)
        # Without authentication there is no Keystone to resolve project names.
        return GlanceClient(conn.image, None if kwargs.get('auth_type') == 'none' else conn)
    except openstack.exceptions.SDKException as e:
        module.fail_json(msg='cannot connect to the image service: %s' % e)


def error_message(response):
    """The human part of an API error body (JSON or webob's HTML page)."""
    text = response.text or ''
    try:
        body = json.loads(text)
        if isinstance(body, dict):
            for value in body.values():
                if isinstance(value, dict) and value.get('message'):
                    return value['message']
    except ValueError:
        pass
    match = re.search(r'</h1>\s*(.*?)(<br|</body>)', text, re.S)
    return (match.group(1) if match else text).strip() or response.reason


class GlanceClient:
    """The Images API v2 calls the modules make, on the SDK's image adapter."""

    def __init__(self, adapter, conn=None):
        self.api = adapter
        self.conn = conn

    def call(self, method, path, expect=(200,), **kwargs):
        try:
            response = self.api.request(path, method, raise_exc=False, **kwargs)
        except Exception as e:  # keystoneauth / requests transport errors
            raise GlanceError('%s %s: %s' % (method, path, e))
        if response.status_code not in expect:
            raise GlanceError('%s %s: %s %s' % (method, path, response.status_code,
                                                error_message(response)),
                              response.status_code)
        return response

    def json(self, method, path, expect=(200,), **kwargs):
        response = self.call(method, path, expect, **kwargs)
        return response.json() if response.content else None

    # images
    def get_image(self, image_id):
        try:
            return self.json('GET', '/images/%s' % image_id)
        except GlanceError as e:
            if e.status == 404:
                return None
            raise

    def list_images(self, filters=None, page_size=None):
        """Every image matching the list filters, following the API's next links."""
        params = dict(filters or {})
        if page_size:
            params['limit'] = page_size
        images = []
        while True:
            page = self.json('GET', '/images', params=params)
            images.extend(page.get('images', []))
            marker = next_marker(page.get('next'))
            if not marker:
                return images
            params['marker'] = marker

    def find_images(self, name_or_id, filters=None):
        """Images whose id or name is name_or_id, hidden ones included."""
        if UUID.match(name_or_id):
            image = self.get_image(name_or_id)
            if image:
                return [image]
        found = []
        for hidden in ('false', 'true'):  # the list hides os_hidden images by default
            query = dict(filters or {}, name=name_or_id, os_hidden=hidden)
            found.extend(self.list_images(query))
        return found

    def create_image(self, body):
        return self.json('POST', '/images', expect=(201,), json=body)

    def patch_image(self, image_id, ops):
        return self.json('PATCH', '/images/%s' % image_id, json=ops,
                         headers={'Content-Type': PATCH_TYPE})

    def upload(self, image_id, path, store=None):
        """PUT the file's bytes: requests streams a file object, nothing is buffered."""
        headers = {'Content-Type': 'application/octet-stream'}
        if store:
            headers['X-Image-Meta-Store'] = store
        with open(path, 'rb') as data:
            self.call('PUT', '/images/%s/file' % image_id, expect=(204,), data=data,
                      headers=headers)

    def delete_image(self, image_id):
        self.call('DELETE', '/images/%s' % image_id, expect=(204,))

    def set_active(self, image_id, active):
        action = 'reactivate' if active else 'deactivate'
        self.call('POST', '/images/%s/actions/%s' % (image_id, action), expect=(204,))

    def import_methods(self):
        info = self.json('GET', '/info/import')
        return list(info.get('import-methods', {}).get('value', []))

    def wait_for(self, image_id, statuses, timeout):
        """The image once its status is one of statuses (None: once it is gone)."""
        deadline = time.time() + timeout
        while True:
            image = self.get_image(image_id)
            status = image['status'] if image else None
            if status in statuses:
                return image
            if status in ('killed', 'deleted') and status not in statuses:
                raise GlanceError('image %s went %s' % (image_id, status))
            if time.time() > deadline:
                raise GlanceError('image %s is %s after %s s, expected %s'
                                  % (image_id, status, timeout, ' or '.join(map(str, statuses))))
            time.sleep(1)

    # members
    def get_member(self, image_id, member_id):
        try:
            return self.json('GET', '/images/%s/members/%s' % (image_id, member_id))
        except GlanceError as e:
            if e.status == 404:
                return None
            raise

    def add_member(self, image_id, member_id):
        return self.json('POST', '/images/%s/members' % image_id, json={'member': member_id})

    def set_member_status(self, image_id, member_id, status):
        return self.json('PUT', '/images/%s/members/%s' % (image_id, member_id),
                         json={'status': status})

    def remove_member(self, image_id, member_id):
        self.call('DELETE', '/images/%s/members/%s' % (image_id, member_id), expect=(204,))

    def project_id(self, name_or_id):
        """A project's ID from its name or ID, through Keystone.

        Without authentication (no Keystone) the value is the ID. A caller who may not
        look projects up can still give an ID (it looks like one); a name then fails.
        """
        if self.conn is None:
            return name_or_id
        try:
            project = self.conn.identity.find_project(name_or_id, ignore_missing=True)
        except Exception as e:  # forbidden, or no identity endpoint
            if PROJECT_ID.match(name_or_id):
                return name_or_id
            raise GlanceError('cannot look project %s up in Keystone (%s): give its ID'
                              % (name_or_id, e))
        if project is None:
            raise GlanceError('Keystone has no project %s' % name_or_id)
        return project.id


def next_marker(link):
    """The marker of a list page's `next` link, or None on the last page."""
    if not link:
        return None
    match = re.search(r'[?&]marker=([^&]+)', link)
    return match.group(1) if match else None


# ---------------------------------------------------------------- planning (pure)

def property_value(value):
    """Custom properties are strings in Glance: booleans as Nova reads them."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


def custom_properties(image):
    """An image's custom properties (its keys outside the base schema, minus the
    read-only os_glance_* ones Glance reserves)."""
    return dict((k, v) for k, v in image.items()
                if k not in BASE_ATTRIBUTES and not k.startswith('os_glance_'))


def managed_view(image):
    """What the modules manage of an image, for diffs: attributes, tags, properties,
    status and content digests. None for no image."""
    if image is None:
        return None
    view = dict((attr, image.get(attr)) for attr in MANAGED_ATTRIBUTES)
    view['tags'] = sorted(image.get('tags') or [])
    view['properties'] = custom_properties(image)
    for key in ('status', 'size', 'checksum', 'os_hash_algo', 'os_hash_value'):
        view[key] = image.get(key)
    return view


def desired_attributes(params):
    """Image attribute -> value for the attribute options the task sets."""
    return dict((attr, params[option]) for option, attr in ATTRIBUTE_OPTIONS
                if params.get(option) is not None)


def image_attributes(image):
    """The attributes of an image the options manage, where set."""
    return dict((attr, image[attr]) for attr in MANAGED_ATTRIBUTES
                if image.get(attr) is not None)


def desired_properties(params, kernel_id=None, ramdisk_id=None):
    props = dict((k, property_value(v)) for k, v in (params.get('properties') or {}).items())
    if kernel_id:
        props['kernel_id'] = kernel_id
    if ramdisk_id:
        props['ramdisk_id'] = ramdisk_id
    return props


def misplaced_properties(properties):
    """Keys of `properties` that are image attributes with options of their own."""
    return sorted(k for k in properties or {} if k in BASE_ATTRIBUTES)


def plan_patch(image, attributes, properties, tags, purge_properties, purge_tags):
    """The JSON patch (list of ops) that takes image to the desired metadata.

    attributes: image attribute -> value (only those to manage); properties: custom
    property -> string; tags: list or None (leave alone). Purging removes custom
    properties / tags not asked for (never kernel_id / ramdisk_id, see their options).
    """
    ops = []
    for attr in sorted(attributes):
        if image.get(attr) != attributes[attr]:
            ops.append({'op': 'replace', 'path': '/' + attr, 'value': attributes[attr]})
    current = custom_properties(image)
    for key in sorted(properties):
        if key not in current:
            ops.append({'op': 'add', 'path': '/' + key, 'value': properties[key]})
        elif current[key] != properties[key]:
            ops.append({'op': 'replace', 'path': '/' + key, 'value': properties[key]})
    if purge_properties:
        for key in sorted(set(current) - set(properties) - OPTION_PROPERTIES):
            ops.append({'op': 'remove', 'path': '/' + key})
    if tags is not None:
        have = set(image.get('tags') or [])
        want = set(tags) if purge_tags else have | set(tags)
        if want != have:
            ops.append({'op': 'replace', 'path': '/tags', 'value': sorted(want)})
    return ops


def apply_patch(image, ops):
    """The image as it will be after ops (check mode's prediction)."""
    result = dict(image)
    for op in ops:
        key = op['path'][1:]
        if op['op'] == 'remove':
            result.pop(key, None)
        else:
            result[key] = op['value']
    return result


def creation_body(params, attributes, properties, tags):
    """The POST /v2/images body: only what the task sets (Glance's defaults for the
    rest, so visibility stays Glance's default unless given)."""
    body = dict(attributes)
    body.update(properties)
    if tags:
        body['tags'] = sorted(set(tags))
    if params.get('id'):
        body['id'] = params['id']
    if params.get('filename') or params.get('url'):
        for attr, default in DEFAULT_FORMATS.items():  # data needs formats
            body.setdefault(attr, default)
    return body


def image_digest(image):
    """(algorithm, hex digest) of an image's data: the multihash, else md5."""
    if image.get('os_hash_algo') and image.get('os_hash_value'):
        return image['os_hash_algo'], image['os_hash_value']
    if image.get('checksum'):
        return 'md5', image['checksum']
    return None


def file_digest(path, algorithm, chunk=CHUNK):
    """Hex digest of a file, read in chunks (never whole into memory)."""
    digest = hashlib.new(algorithm)
    with open(path, 'rb') as data:
        for block in iter(lambda: data.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def content_matches(image, path, size):
    """Whether the local file holds the image's data: sizes first (free), then the
    image's own hash algorithm (md5 when the algorithm is unknown here)."""
    if image.get('size') is not None and image['size'] != size:
        return False
    digest = image_digest(image)
    if digest is None:
        return False
    algorithm, value = digest
    if algorithm not in hashlib.algorithms_available and image.get('checksum'):
        algorithm, value = 'md5', image['checksum']
    return file_digest(path, algorithm) == value


def content_action(image, has_file, matches, formats_differ, on_change):
    """What to do about an existing image's data.

    Returns 'none' (nothing to do), 'upload' (the image has no data yet), or, when
    its data or formats differ from the task's, on_content_change: 'fail', 'keep'
    or 'replace'.
    """
    if image['status'] == 'queued':
        return 'upload' if has_file else 'none'
    if has_file and not matches:
        return on_change
    if formats_differ:
        return on_change
    return 'none'


def plan_membership(current, member_id, state, status):
    """(steps, after) taking a membership (API dict or None) to the wanted one.

    steps: 'add' (owner shares), 'remove' (owner stops sharing), 'status' (the
    member sets status); after: the membership's diff view ({} for none).
    """
    if state == 'absent':
        return (['remove'] if current else []), {}
    steps = [] if current else ['add']
    have = current['status'] if current else 'pending'
    if status and status != have:
        steps.append('status')
    return steps, dict(member=member_id, status=status or have)
