"""Domain objects: an image and its membership, as the controller sees them."""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

STATUSES = ('queued', 'saving', 'active', 'killed', 'deleted', 'pending_delete',
            'deactivated', 'uploading', 'importing')
VISIBILITIES = ('public', 'private', 'shared', 'community')
MEMBER_STATUSES = ('pending', 'accepted', 'rejected')
# Property names Glance keeps for itself (os_glance_*): clients may not set them.
RESERVED_NAMESPACE = 'os_glance'

# Columns the image row has beyond its custom properties.
CORE_FIELDS = ('name', 'status', 'visibility', 'owner', 'size', 'virtual_size',
               'disk_format', 'container_format', 'checksum', 'os_hash_algo',
               'os_hash_value', 'min_disk', 'min_ram', 'protected', 'os_hidden')
# Columns a client may set directly (everything else it sends is a custom property).
WRITABLE_FIELDS = frozenset({'id', 'name', 'visibility', 'owner', 'disk_format',
                             'container_format', 'min_disk', 'min_ram', 'protected',
                             'os_hidden'})
# The largest value of each integer column: INTEGER (as in Glance) and BIGINT.
INTEGER_MAX = {'min_disk': 2 ** 31 - 1, 'min_ram': 2 ** 31 - 1,
               'size': 2 ** 63 - 1, 'virtual_size': 2 ** 63 - 1}


def isotime(value: dt.datetime | None) -> str | None:
    """Glance's wire format for a time: UTC, whole seconds, 'Z' (stored times are naive
    UTC)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.strftime('%Y-%m-%dT%H:%M:%SZ')


@dataclasses.dataclass
class Image:
    id: str
    status: str
    visibility: str
    owner: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    name: str | None = None
    size: int | None = None
    virtual_size: int | None = None
    disk_format: str | None = None
    container_format: str | None = None
    checksum: str | None = None
    os_hash_algo: str | None = None
    os_hash_value: str | None = None
    min_disk: int = 0
    min_ram: int = 0
    protected: bool = False
    os_hidden: bool = False
    properties: dict[str, str] = dataclasses.field(default_factory=dict)
    tags: list[str] = dataclasses.field(default_factory=list)
    locations: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    member: str | None = None   # the caller's project, when it is a member

    @classmethod
    def from_row(cls, row: dict) -> Image:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in row.items() if k in fields})

    def policy_target(self) -> dict:
        """The target oslo.policy rules see, with Glance's key names."""
        target = {f: getattr(self, f) for f in CORE_FIELDS}
        target.update(self.properties)
        target.update(id=self.id, image_id=self.id, project_id=self.owner,
                      member_id=self.member)
        return target


@dataclasses.dataclass
class Member:
    image_id: str
    member: str
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime
    can_share: bool = False

    @classmethod
    def from_row(cls, row: dict) -> Member:
        return cls(image_id=row['image_id'], member=row['member'], status=row['status'],
                   created_at=row['created_at'], updated_at=row['updated_at'],
                   can_share=bool(row.get('can_share')))
