"""Per-image count quotas (image_property_quota, image_tag_quota, image_member_quota,
image_location_quota): a negative maximum means unlimited; exceeding one is a 413."""
from __future__ import annotations

from glint.common import exception
from glint.domain.model import RESERVED_NAMESPACE


def check(what: str, attempted: int, maximum: int) -> None:
    if 0 <= maximum < attempted:
        raise exception.RequestEntityTooLarge(
            'The limit has been exceeded on the number of allowed image %s. '
            'Attempted: %d, Maximum: %d' % (what, attempted, maximum))


def check_properties(properties, maximum: int) -> None:
    """Glance does not count its own os_glance_* bookkeeping properties."""
    check('properties', sum(1 for k in properties if not k.startswith(RESERVED_NAMESPACE)),
          maximum)
