"""JSON schemas served under ``/v2/schemas``, shaped exactly as Glance serves them.

Clients build models from these documents: python-glanceclient feeds
``GET /v2/schemas/image`` to warlock, validates every image it reads back (and every
attribute it sets) against it, omits ``readOnly`` properties from its CLI arguments and
uses ``is_base`` to choose between ``add`` and ``replace`` when it builds a JSON patch.
So property names, types, enums, limits and flags must stay in step with upstream.

* ``image`` is permissive: properties not listed must be strings
  (``additionalProperties: {"type": "string"}``).
* The ``is_base: false`` properties are the common extras Glance loads from its stock
  ``schema-image.json``; they are stored as ordinary extra properties.
* ``member``/``members`` are served in Glance's "minimal" form: no
  ``additionalProperties`` and only the ``describedby`` link.

The functions return cached documents shared by every caller: treat them as read-only.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from glint.domain.model import RESERVED_NAMESPACE  # noqa: F401  (part of this API)

Schema = dict[str, Any]

_UUID_PATTERN = ('^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}'
                 '-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$')

IMAGE_STATUSES = ('queued', 'saving', 'active', 'killed', 'deleted', 'uploading',
                  'importing', 'pending_delete', 'deactivated')
IMAGE_VISIBILITIES = ('community', 'public', 'private', 'shared')
MEMBER_STATUSES = ('pending', 'accepted', 'rejected')

# Extra-property names starting with this are Glance's own (os_glance_import_task, ...):
# clients may neither set nor remove them (403).

_BASE_PROPERTIES: dict[str, Schema] = {
    'id': {'type': 'string', 'description': 'Image UUID.', 'pattern': _UUID_PATTERN},
    'name': {'type': ['null', 'string'], 'description': 'Image name.', 'maxLength': 255},
    'status': {'type': 'string', 'readOnly': True, 'description': 'Lifecycle state.',
               'enum': list(IMAGE_STATUSES)},
    'visibility': {'type': 'string', 'description': 'Who may see the image.',
                   'enum': list(IMAGE_VISIBILITIES)},
    'protected': {'type': 'boolean', 'description': 'Whether deletion is blocked.'},
    'os_hidden': {'type': 'boolean',
                  'description': 'Whether the image is left out of default listings.'},
    'checksum': {'type': ['null', 'string'], 'readOnly': True,
                 'description': 'MD5 of the image data.', 'maxLength': 32},
    'os_hash_algo': {'type': ['null', 'string'], 'readOnly': True,
                     'description': 'hashlib algorithm of os_hash_value.',
                     'maxLength': 64},
    'os_hash_value': {'type': ['null', 'string'], 'readOnly': True,
                      'description': 'Hex digest of the image data (os_hash_algo).',
                      'maxLength': 128},
    'owner': {'type': ['null', 'string'], 'description': 'Owning project.',
              'maxLength': 255},
    'size': {'type': ['null', 'integer'], 'readOnly': True,
             'description': 'Image data size in bytes.'},
    'virtual_size': {'type': ['null', 'integer'], 'readOnly': True,
                     'description': 'Virtual disk size in bytes.'},
    # container_format and disk_format: filled in from configuration, see below.
    'created_at': {'type': 'string', 'readOnly': True, 'description': 'Creation time.'},
    'updated_at': {'type': 'string', 'readOnly': True,
                   'description': 'Last modification time.'},
    'tags': {'type': 'array', 'description': 'Free-form labels.',
             'items': {'type': 'string', 'maxLength': 255}},
    'direct_url': {'type': 'string', 'readOnly': True,
                   'description': 'Backend URL of the image data.'},
    'min_ram': {'type': 'integer', 'description': 'RAM needed to boot, in MB.'},
    'min_disk': {'type': 'integer', 'description': 'Disk needed to boot, in GB.'},
    'self': {'type': 'string', 'readOnly': True, 'description': 'Image URL.'},
    'file': {'type': 'string', 'readOnly': True, 'description': 'Image data URL.'},
    'stores': {'type': 'string', 'readOnly': True,
               'description': 'Comma-separated stores holding the data (multi-store).'},
    'schema': {'type': 'string', 'readOnly': True, 'description': 'Schema URL.'},
    'locations': {
        'type': 'array',
        'description': 'Backend locations of the image data.',
        'items': {
            'type': 'object',
            'properties': {
                'url': {'type': 'string', 'maxLength': 255},
                'metadata': {'type': 'object'},
                'validation_data': {
                    'description': 'Checksum and hash the location is known to have.',
                    'type': 'object',
                    'writeOnly': True,
                    'additionalProperties': False,
                    'properties': {
                        'checksum': {'type': 'string', 'minLength': 32, 'maxLength': 32},
                        'os_hash_algo': {'type': 'string', 'maxLength': 64},
                        'os_hash_value': {'type': 'string', 'maxLength': 128},
                    },
                    'required': ['os_hash_algo', 'os_hash_value'],
                },
            },
            'required': ['url', 'metadata'],
        },
    },
}

# Glance's stock etc/schema-image.json, merged into the served schema with is_base=False.
_COMMON_EXTRA_PROPERTIES: dict[str, Schema] = {
    'kernel_id': {'type': ['null', 'string'], 'pattern': _UUID_PATTERN,
                  'description': 'Kernel image to boot an AMI-style image with.'},
    'ramdisk_id': {'type': ['null', 'string'], 'pattern': _UUID_PATTERN,
                   'description': 'Ramdisk image to boot an AMI-style image with.'},
    'instance_uuid': {'type': 'string',
                      'description': 'Server this image was taken from (informational).'},
    'architecture': {'type': 'string', 'description': 'CPU architecture.'},
    'os_distro': {'type': 'string', 'description': 'Operating system distribution.'},
    'os_version': {'type': 'string', 'description': 'Operating system version.'},
    'description': {'type': 'string', 'description': 'Free-text description.'},
}

_IMAGE_LINKS = (('self', '{self}'), ('enclosure', '{file}'), ('describedby', '{schema}'))
_COLLECTION_LINKS = (('first', '{first}'), ('next', '{next}'), ('describedby', '{schema}'))

_MEMBER_PROPERTIES: dict[str, Schema] = {
    'member_id': {'type': 'string', 'description': 'Project the image is shared with.'},
    'image_id': {'type': 'string', 'description': 'Shared image UUID.',
                 'pattern': _UUID_PATTERN},
    'created_at': {'type': 'string', 'description': 'Creation time.'},
    'updated_at': {'type': 'string', 'description': 'Last modification time.'},
    'status': {'type': 'string', 'description': "The member's answer to the share.",
               'enum': list(MEMBER_STATUSES)},
    'schema': {'type': 'string', 'readOnly': True},
}

BASE_IMAGE_PROPERTIES: frozenset[str] = frozenset(
    [*_BASE_PROPERTIES, 'container_format', 'disk_format'])
READ_ONLY_IMAGE_PROPERTIES: frozenset[str] = frozenset({
    'id', 'status', 'checksum', 'os_hash_algo', 'os_hash_value', 'size', 'virtual_size',
    'created_at', 'updated_at', 'direct_url', 'self', 'file', 'schema', 'stores'})
RESERVED_IMAGE_PROPERTIES: frozenset[str] = frozenset({'location', 'deleted', 'deleted_at'})


def _links(pairs: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    return [{'rel': rel, 'href': href} for rel, href in pairs]


def _copy(value: Any) -> Any:
    """Deep-copy plain JSON data (cheaper than copy.deepcopy, only runs on cache misses)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _format_property(what: str, formats: tuple[str, ...]) -> Schema:
    return {'type': ['null', 'string'], 'description': f'{what} format.',
            'enum': [None, *formats]}


@lru_cache(maxsize=16)
def _image_schema(disk_formats: tuple[str, ...], container_formats: tuple[str, ...]) -> Schema:
    properties = _copy(_BASE_PROPERTIES)
    properties['container_format'] = _format_property('Container', container_formats)
    properties['disk_format'] = _format_property('Disk', disk_formats)
    for name, prop in _COMMON_EXTRA_PROPERTIES.items():
        properties[name] = {**_copy(prop), 'is_base': False}
    return {
        'name': 'image',
        'properties': properties,
        'additionalProperties': {'type': 'string'},
        'links': _links(_IMAGE_LINKS),
    }


@lru_cache(maxsize=16)
def _images_schema(disk_formats: tuple[str, ...],
                   container_formats: tuple[str, ...]) -> Schema:
    return {
        'name': 'images',
        'properties': {
            'images': {'type': 'array',
                       'items': _image_schema(disk_formats, container_formats)},
            'first': {'type': 'string'},
            'next': {'type': 'string'},
            'schema': {'type': 'string'},
        },
        'links': _links(_COLLECTION_LINKS),
    }


def image_schema(disk_formats: list[str], container_formats: list[str]) -> Schema:
    """The ``image`` schema for the configured ``[image_format]`` lists."""
    return _image_schema(tuple(disk_formats), tuple(container_formats))


def images_schema(disk_formats: list[str], container_formats: list[str]) -> Schema:
    """The ``images`` (image list) schema; its items are the ``image`` schema."""
    return _images_schema(tuple(disk_formats), tuple(container_formats))


@lru_cache(maxsize=1)
def member_schema() -> Schema:
    """The ``member`` schema."""
    return {'name': 'member', 'properties': _copy(_MEMBER_PROPERTIES)}


@lru_cache(maxsize=1)
def members_schema() -> Schema:
    """The ``members`` (member list) schema."""
    return {
        'name': 'members',
        'properties': {
            'members': {'type': 'array', 'items': member_schema()},
            'schema': {'type': 'string'},
        },
        'links': _links((('describedby', '{schema}'),)),
    }
