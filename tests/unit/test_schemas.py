"""Tests of glint.api.v2.schemas: structure as upstream Glance serves it, and client use.

The expected structures below were taken from the documents Glance 33 serves (with its
stock etc/schema-image.json) with descriptions left out, since only wording differs.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonpatch
import jsonschema
import pytest
import warlock
from glanceclient.common import utils as gc_utils
from glanceclient.v2 import image_schema as gc_image_schema
from glanceclient.v2 import schemas as gc_schemas

try:
    from glint.api.v2 import schemas
except ImportError:  # running from a checkout without glint installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'service'))
    from glint.api.v2 import schemas

DISK_FORMATS = ['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso',
                'ploop']
CONTAINER_FORMATS = ['ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed']
UUID = ('^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}'
        '-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$')
NS = ['null', 'string']
RO = {'readOnly': True}

# Upstream's served image properties, minus descriptions.
UPSTREAM_IMAGE_PROPERTIES = {
    'id': {'type': 'string', 'pattern': UUID},
    'name': {'type': NS, 'maxLength': 255},
    'status': {'type': 'string', **RO, 'enum': [
        'queued', 'saving', 'active', 'killed', 'deleted', 'uploading', 'importing',
        'pending_delete', 'deactivated']},
    'visibility': {'type': 'string', 'enum': ['community', 'public', 'private', 'shared']},
    'protected': {'type': 'boolean'},
    'os_hidden': {'type': 'boolean'},
    'checksum': {'type': NS, **RO, 'maxLength': 32},
    'os_hash_algo': {'type': NS, **RO, 'maxLength': 64},
    'os_hash_value': {'type': NS, **RO, 'maxLength': 128},
    'owner': {'type': NS, 'maxLength': 255},
    'size': {'type': ['null', 'integer'], **RO},
    'virtual_size': {'type': ['null', 'integer'], **RO},
    'container_format': {'type': NS, 'enum': [None, *CONTAINER_FORMATS]},
    'disk_format': {'type': NS, 'enum': [None, *DISK_FORMATS]},
    'created_at': {'type': 'string', **RO},
    'updated_at': {'type': 'string', **RO},
    'tags': {'type': 'array', 'items': {'type': 'string', 'maxLength': 255}},
    'direct_url': {'type': 'string', **RO},
    'min_ram': {'type': 'integer'},
    'min_disk': {'type': 'integer'},
    'self': {'type': 'string', **RO},
    'file': {'type': 'string', **RO},
    'stores': {'type': 'string', **RO},
    'schema': {'type': 'string', **RO},
    'locations': {'type': 'array', 'items': {
        'type': 'object',
        'properties': {
            'url': {'type': 'string', 'maxLength': 255},
            'metadata': {'type': 'object'},
            'validation_data': {
                'type': 'object', 'writeOnly': True, 'additionalProperties': False,
                'properties': {
                    'checksum': {'type': 'string', 'minLength': 32, 'maxLength': 32},
                    'os_hash_algo': {'type': 'string', 'maxLength': 64},
                    'os_hash_value': {'type': 'string', 'maxLength': 128}},
                'required': ['os_hash_algo', 'os_hash_value']}},
        'required': ['url', 'metadata']}},
    # From etc/schema-image.json, flagged as not base.
    'kernel_id': {'type': NS, 'pattern': UUID, 'is_base': False},
    'ramdisk_id': {'type': NS, 'pattern': UUID, 'is_base': False},
    'instance_uuid': {'type': 'string', 'is_base': False},
    'architecture': {'type': 'string', 'is_base': False},
    'os_distro': {'type': 'string', 'is_base': False},
    'os_version': {'type': 'string', 'is_base': False},
    'description': {'type': 'string', 'is_base': False},
}
UPSTREAM_MEMBER_PROPERTIES = {
    'member_id': {'type': 'string'},
    'image_id': {'type': 'string', 'pattern': UUID},
    'created_at': {'type': 'string'},
    'updated_at': {'type': 'string'},
    'status': {'type': 'string', 'enum': ['pending', 'accepted', 'rejected']},
    'schema': {'type': 'string', 'readOnly': True},
}
EXTRA_NAMES = {name for name, p in UPSTREAM_IMAGE_PROPERTIES.items()
               if p.get('is_base') is False}

IMAGE_ID = '1bea47ed-f6a9-463b-b423-14b9cca9ad27'


def client_model(model, body):
    """Build the model as glanceclient does: it drops 'self' (clashes with __init__)."""
    return model(**{k: v for k, v in body.items() if k != 'self'})


def strip_descriptions(value):
    if isinstance(value, dict):
        return {k: strip_descriptions(v) for k, v in value.items()
                if not (k == 'description' and isinstance(v, str))}
    if isinstance(value, list):
        return [strip_descriptions(v) for v in value]
    return value


def served(document):
    """What a client receives: the document after a JSON round trip."""
    return json.loads(json.dumps(document))


@pytest.fixture
def image_doc():
    return served(schemas.image_schema(DISK_FORMATS, CONTAINER_FORMATS))


def glint_image(**overrides):
    """An image as Glint's API returns it (fresh, queued, nothing uploaded)."""
    image = {
        'id': IMAGE_ID, 'name': None, 'status': 'queued', 'visibility': 'shared',
        'protected': False, 'os_hidden': False, 'checksum': None, 'os_hash_algo': None,
        'os_hash_value': None, 'owner': 'c0ffee', 'size': None, 'virtual_size': None,
        'container_format': None, 'disk_format': None,
        'created_at': '2024-01-02T03:04:05Z', 'updated_at': '2024-01-02T03:04:05Z',
        'tags': [], 'min_ram': 0, 'min_disk': 0,
        'self': f'/v2/images/{IMAGE_ID}', 'file': f'/v2/images/{IMAGE_ID}/file',
        'schema': '/v2/schemas/image',
    }
    image.update(overrides)
    return image


def active_image():
    return glint_image(
        name='cirros', status='active', visibility='public', disk_format='qcow2',
        container_format='bare', size=16338944, virtual_size=117440512,
        checksum='1d3062cd89af34e419f7100277f38b2b', os_hash_algo='sha512',
        os_hash_value='f' * 128, tags=['a', 'b'], os_distro='cirros', kernel_id=None,
        os_glance_importing_to_stores='', os_glance_failed_import='', hw_disk_bus='virtio',
        stores='file1,file2', direct_url='file:///var/lib/glance/images/x',
        locations=[{'url': 'file:///var/lib/glance/images/x', 'metadata': {'store': 'file1'}}])


# --- structure, compared with upstream ------------------------------------------------

def test_image_document_shape(image_doc):
    assert set(image_doc) == {'name', 'properties', 'additionalProperties', 'links'}
    assert image_doc['name'] == 'image'
    assert image_doc['additionalProperties'] == {'type': 'string'}
    assert image_doc['links'] == [
        {'rel': 'self', 'href': '{self}'},
        {'rel': 'enclosure', 'href': '{file}'},
        {'rel': 'describedby', 'href': '{schema}'},
    ]


def test_image_properties_match_upstream(image_doc):
    props = image_doc['properties']
    assert set(props) == set(UPSTREAM_IMAGE_PROPERTIES)
    for name, expected in UPSTREAM_IMAGE_PROPERTIES.items():
        assert strip_descriptions(props[name]) == expected, name


def test_every_top_level_image_property_is_described(image_doc):
    for name, prop in image_doc['properties'].items():
        assert isinstance(prop.get('description'), str) and prop['description'], name


def test_format_enums_follow_configuration():
    doc = schemas.image_schema(['raw'], ['bare', 'ovf'])
    assert doc['properties']['disk_format']['enum'] == [None, 'raw']
    assert doc['properties']['container_format']['enum'] == [None, 'bare', 'ovf']
    # Other configurations are unaffected.
    default = schemas.image_schema(DISK_FORMATS, CONTAINER_FORMATS)
    assert default['properties']['disk_format']['enum'] == [None, *DISK_FORMATS]


def test_images_collection_matches_upstream():
    doc = served(schemas.images_schema(DISK_FORMATS, CONTAINER_FORMATS))
    assert set(doc) == {'name', 'properties', 'links'}
    assert doc['name'] == 'images'
    assert doc['links'] == [
        {'rel': 'first', 'href': '{first}'},
        {'rel': 'next', 'href': '{next}'},
        {'rel': 'describedby', 'href': '{schema}'},
    ]
    props = doc['properties']
    assert set(props) == {'images', 'first', 'next', 'schema'}
    for name in ('first', 'next', 'schema'):
        assert props[name] == {'type': 'string'}
    assert props['images']['type'] == 'array'
    assert props['images']['items'] == served(
        schemas.image_schema(DISK_FORMATS, CONTAINER_FORMATS))


def test_member_documents_match_upstream():
    member = served(schemas.member_schema())
    assert set(member) == {'name', 'properties'}  # "minimal": no additionalProperties
    assert member['name'] == 'member'
    assert strip_descriptions(member['properties']) == UPSTREAM_MEMBER_PROPERTIES

    members = served(schemas.members_schema())
    assert set(members) == {'name', 'properties', 'links'}
    assert members['name'] == 'members'
    assert members['links'] == [{'rel': 'describedby', 'href': '{schema}'}]
    assert set(members['properties']) == {'members', 'schema'}
    assert members['properties']['schema'] == {'type': 'string'}
    assert members['properties']['members'] == {'type': 'array', 'items': member}


@pytest.mark.parametrize('validator', [jsonschema.Draft4Validator,
                                       jsonschema.Draft202012Validator])
def test_documents_are_valid_json_schemas(validator):
    for doc in (schemas.image_schema(DISK_FORMATS, CONTAINER_FORMATS),
                schemas.images_schema(DISK_FORMATS, CONTAINER_FORMATS),
                schemas.member_schema(), schemas.members_schema()):
        validator.check_schema(doc)


def test_documents_are_cached():
    first = schemas.image_schema(list(DISK_FORMATS), list(CONTAINER_FORMATS))
    assert schemas.image_schema(list(DISK_FORMATS), list(CONTAINER_FORMATS)) is first
    images = schemas.images_schema(DISK_FORMATS, CONTAINER_FORMATS)
    assert images is schemas.images_schema(DISK_FORMATS, CONTAINER_FORMATS)
    assert images['properties']['images']['items'] is first
    assert schemas.member_schema() is schemas.member_schema()
    assert schemas.members_schema() is schemas.members_schema()


# --- property classes the API layer enforces ------------------------------------------

def test_base_properties_are_the_schema_properties_that_are_not_extras(image_doc):
    assert schemas.BASE_IMAGE_PROPERTIES == set(image_doc['properties']) - EXTRA_NAMES


def test_read_only_properties():
    # Glance's RequestDeserializer: _readonly_properties (PATCH) and
    # _disallowed_properties (POST), both answered with 403.
    assert schemas.READ_ONLY_IMAGE_PROPERTIES == {
        'created_at', 'updated_at', 'status', 'checksum', 'size', 'virtual_size',
        'direct_url', 'self', 'file', 'schema', 'id', 'os_hash_algo', 'os_hash_value',
        'stores'}
    assert schemas.READ_ONLY_IMAGE_PROPERTIES <= schemas.BASE_IMAGE_PROPERTIES


def test_read_only_flags_are_all_enforced(image_doc):
    flagged = {n for n, p in image_doc['properties'].items() if p.get('readOnly')}
    assert flagged <= schemas.READ_ONLY_IMAGE_PROPERTIES
    # 'id' is the one read-only name not flagged: it may be chosen on create.
    assert schemas.READ_ONLY_IMAGE_PROPERTIES - flagged == {'id'}


def test_reserved_properties(image_doc):
    assert schemas.RESERVED_IMAGE_PROPERTIES == {'location', 'deleted', 'deleted_at'}
    assert not schemas.RESERVED_IMAGE_PROPERTIES & set(image_doc['properties'])
    assert schemas.RESERVED_NAMESPACE == 'os_glance'
    assert not any(n.startswith('os_glance') for n in image_doc['properties'])


# --- what clients do with the documents -----------------------------------------------

def test_images_glint_returns_validate(image_doc):
    for image in (glint_image(), active_image()):
        jsonschema.validate(image, image_doc)
    listing = {'images': [glint_image(), active_image()], 'first': '/v2/images',
               'next': f'/v2/images?marker={IMAGE_ID}', 'schema': '/v2/schemas/images'}
    jsonschema.validate(listing, served(schemas.images_schema(DISK_FORMATS,
                                                              CONTAINER_FORMATS)))


@pytest.mark.parametrize('bad', [
    {'disk_format': 'qed'},
    {'container_format': 'tar'},
    {'visibility': 'everyone'},
    {'status': 'gone'},
    {'name': 'x' * 256},
    {'checksum': 'f' * 33},
    {'min_ram': None},          # not nullable: always return an integer
    {'direct_url': None},       # not nullable: leave it out instead
    {'kernel_id': 'not-a-uuid'},
    {'hw_disk_bus': None},      # extra properties must be strings (Glance sends '')
    {'hw_disk_bus': 1},
    {'tags': ['x' * 256]},
    {'locations': [{'url': 'file:///x'}]},
])
def test_invalid_images_are_rejected(image_doc, bad):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(glint_image(**bad), image_doc)


def test_warlock_model_accepts_glint_images(image_doc):
    model = warlock.model_factory(image_doc, base_class=gc_schemas.SchemaBasedModel)
    image = client_model(model, active_image())
    assert image.os_distro == 'cirros'
    with pytest.raises(ValueError):
        client_model(model, glint_image(disk_format='qed'))
    image.name = 'renamed'
    with pytest.raises(warlock.InvalidOperation):
        image.visibility = 'everyone'


def test_glanceclient_schema_helpers(image_doc):
    schema = gc_schemas.Schema(image_doc)
    assert schema.name == 'image'
    for name in schemas.BASE_IMAGE_PROPERTIES:
        assert schema.is_base_property(name), name
    for name in EXTRA_NAMES:
        assert not schema.is_base_property(name), name
        assert schema.is_core_property(name), name
    assert not schema.is_core_property('hw_disk_bus')
    assert not schema.is_base_property('hw_disk_bus')


def test_glanceclient_update_patch_ops(image_doc):
    """Unset base properties are replaced, unset extras (is_base false) are added."""
    model = warlock.model_factory(image_doc, base_class=gc_schemas.SchemaBasedModel)
    fetched = glint_image(disk_format='raw')
    image = client_model(model, fetched)
    image.container_format = 'bare'
    image.os_distro = 'ubuntu'
    image.hw_disk_bus = 'scsi'
    del image.disk_format
    ops = json.loads(image.patch)
    assert sorted(ops, key=lambda op: op['path']) == [
        {'op': 'replace', 'path': '/container_format', 'value': 'bare'},
        {'op': 'remove', 'path': '/disk_format'},
        {'op': 'add', 'path': '/hw_disk_bus', 'value': 'scsi'},
        {'op': 'add', 'path': '/os_distro', 'value': 'ubuntu'},
    ]
    patched = jsonpatch.apply_patch(fetched, ops)
    jsonschema.validate(patched, image_doc)


def test_glanceclient_cli_arguments(image_doc):
    """`glance image-create/update` options come from the non-readOnly properties."""
    def command():
        pass

    gc_utils.schema_args(lambda: image_doc)(command)
    options = {args[0]: kwargs for args, kwargs in command.arguments}
    writable = {n for n, p in image_doc['properties'].items() if not p.get('readOnly')}
    assert set(options) == {'--' + n.replace('_', '-') for n in writable}
    assert '--status' not in options and '--checksum' not in options
    assert options['--min-ram']['type'] is int
    assert options['--protected']['metavar'] == '[True|False]'
    assert options['--tags']['nargs'] == '+'
    assert options['--disk-format']['help'].endswith(
        'Valid values: None, ' + ', '.join(DISK_FORMATS))


def test_agrees_with_glanceclient_builtin_snapshot(image_doc):
    """glanceclient's offline copy of the image schema is a (stale) subset of ours."""
    snapshot = gc_image_schema._BASE_SCHEMA
    assert snapshot['additionalProperties'] == image_doc['additionalProperties']
    assert snapshot['links'] == image_doc['links']
    ours = image_doc['properties']
    assert set(snapshot['properties']) <= set(ours)
    for name, prop in snapshot['properties'].items():
        assert prop['type'] == ours[name]['type'], name
        assert prop.get('readOnly', False) == ours[name].get('readOnly', False), name
        assert prop.get('is_base', True) == ours[name].get('is_base', True), name
        assert prop.get('pattern') == ours[name].get('pattern'), name


def test_member_model(image_doc):
    doc = served(schemas.member_schema())
    model = warlock.model_factory(doc, gc_schemas.SchemaBasedModel)
    member = model({'image_id': IMAGE_ID, 'member_id': 'c0ffee', 'status': 'pending',
                    'created_at': '2024-01-02T03:04:05Z',
                    'updated_at': '2024-01-02T03:04:05Z',
                    'schema': '/v2/schemas/member'})
    assert member.status == 'pending'
    with pytest.raises(ValueError):
        model({'image_id': IMAGE_ID, 'member_id': 'c0ffee', 'status': 'maybe'})
    jsonschema.validate({'members': [dict(member)], 'schema': '/v2/schemas/members'},
                        served(schemas.members_schema()))
