"""Per-image count quotas (image_property_quota, image_tag_quota, image_member_quota):
a negative maximum means unlimited; exceeding one is a 413."""
from __future__ import annotations

from glint.common import exception
from glint.domain.model import RESERVED_NAMESPACE

UNITS = {'B': 1, 'KB': 1024, 'MB': 1024 ** 2, 'GB': 1024 ** 3, 'TB': 1024 ** 4}


def check(what: str, attempted: int, maximum: int) -> None:
    if 0 <= maximum < attempted:
        raise exception.RequestEntityTooLarge(
            'The limit has been exceeded on the number of allowed image %s. '
            'Attempted: %d, Maximum: %d' % (what, attempted, maximum))


def check_properties(properties, maximum: int) -> None:
    """Glance does not count its own os_glance_* bookkeeping properties."""
    check('properties', sum(1 for k in properties if not k.startswith(RESERVED_NAMESPACE)),
          maximum)


def parse_size(text: str) -> int:
    """'10GB' -> bytes, as user_storage_quota is written."""
    text = text.strip().upper()
    for unit in ('TB', 'GB', 'MB', 'KB', 'B'):
        if text.endswith(unit):
            return int(text[:-len(unit)].strip()) * UNITS[unit]
    return int(text)
