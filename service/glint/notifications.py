"""What the notifications say: Glance's payloads.

The payloads are those of ``glance.notifier`` (``format_image_notification``,
``format_image_member_notification``, the ``image.send`` dict of
``glance.api.common``), key for key: consumers such as Ceilometer parse them.
Image locations are never included (they may carry credentials).
"""
from __future__ import annotations

from typing import Any

from glint.common import exception
from glint.domain.model import isotime

Row = dict[str, Any]


def _get(obj, name: str, default=None):
    return obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)


def image_payload(image, **extra) -> dict:
    """An image (a database row or a domain Image) as Glance's notifications show it."""
    payload = {
        'id': _get(image, 'id'),
        'name': _get(image, 'name'),
        'status': _get(image, 'status'),
        'created_at': isotime(_get(image, 'created_at')),
        'updated_at': isotime(_get(image, 'updated_at')),
        'min_disk': _get(image, 'min_disk'),
        'min_ram': _get(image, 'min_ram'),
        'protected': bool(_get(image, 'protected')),
        'checksum': _get(image, 'checksum'),
        'owner': _get(image, 'owner'),
        'disk_format': _get(image, 'disk_format'),
        'container_format': _get(image, 'container_format'),
        'size': _get(image, 'size'),
        'virtual_size': _get(image, 'virtual_size'),
        'is_public': _get(image, 'visibility') == 'public',
        'visibility': _get(image, 'visibility'),
        'properties': dict(_get(image, 'properties') or {}),
        'tags': list(_get(image, 'tags') or []),
        'deleted': False,
        'deleted_at': None,
    }
    payload.update(extra)
    return payload


def import_properties(image) -> dict:
    """Glance's extra keys of image.prepare and image.upload (lists, from properties)."""
    props = _get(image, 'properties') or {}
    return {name: [s for s in (props.get(name) or '').split(',') if s]
            for name in ('os_glance_importing_to_stores', 'os_glance_failed_import')}


def deleted_image_payload(image) -> dict:
    """image.delete: Glance's image after its removal (the deletion time is also its
    updated_at)."""
    deleted_at = isotime(_get(image, 'deleted_at'))
    return image_payload(image, deleted=True, deleted_at=deleted_at, updated_at=deleted_at)


def member_payload(member, **extra) -> dict:
    """A membership row (``member`` is the project) as Glance's notifications show it."""
    payload = {
        'image_id': _get(member, 'image_id'),
        'member_id': _get(member, 'member'),
        'status': _get(member, 'status'),
        'created_at': isotime(_get(member, 'created_at')),
        'updated_at': isotime(_get(member, 'updated_at')),
        'deleted': False,
        'deleted_at': None,
    }
    payload.update(extra)
    return payload


def send_payload(image, ctx, bytes_sent: int, destination_ip: str | None) -> dict:
    return {
        'bytes_sent': bytes_sent,
        'image_id': _get(image, 'id'),
        'owner_id': _get(image, 'owner'),
        'receiver_tenant_id': ctx.project_id,
        'receiver_user_id': ctx.user_id,
        'destination_ip': destination_ip,
    }


def upload_failure(image_id: str, error: BaseException) -> str:
    """The error image.upload payload: Glance sends a message, chosen by the failure."""
    text = getattr(error, 'msg', None) or str(error) or type(error).__name__
    if isinstance(error, exception.StorageFull):
        return 'Image storage media is full: %s' % text
    if isinstance(error, exception.ClientDisconnected):
        pass
    elif isinstance(error, exception.BadRequest):
        return 'Cannot save data for image %s: %s' % (image_id, text)
    elif isinstance(error, exception.Conflict):
        return 'Unable to upload duplicate image data for image %s: %s' % (image_id, text)
    elif isinstance(error, exception.Forbidden):
        return 'Not allowed to upload image data for image %s: %s' % (image_id, text)
    elif isinstance(error, (exception.NotFound, exception.Gone)):
        return ('Image %s could not be found after upload. The image may have been '
                'deleted during the upload: %s' % (image_id, text))
    return ('Failed to upload image data for image %s due to internal error: %s'
            % (image_id, text))
