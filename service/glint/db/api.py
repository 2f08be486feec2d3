"""The database abstraction layer: what the domain asks of any image database.

Two implementations: ``glint.db.sqlalchemy.api`` (direct SQL) and
``glint.db.registry.api`` (a client of glance-registry, which runs the SQL one).
``data_api`` in glance-api.conf names the module; each exposes ``connect(conf)``.
Rows cross this interface as plain dicts so they can also travel over HTTP; the
registry's commands are exactly the methods of ``ImageDatabase``.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Protocol

Row = dict[str, Any]

# Aliases that upstream Glance configs carry for the same thing.
DATA_API_ALIASES = {
    'glance.db.sqlalchemy.api': 'glint.db.sqlalchemy.api',
    'glance.db.registry.api': 'glint.db.registry.api',
}


@dataclasses.dataclass
class Filter:
    """``column op value``; op is one of eq, neq, gt, gte, lt, lte, in."""
    column: str
    op: str
    value: Any


@dataclasses.dataclass
class ListQuery:
    """One page of an image listing, as seen by one caller."""
    project_id: str | None
    is_admin: bool
    filters: list[Filter] = dataclasses.field(default_factory=list)
    properties: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    tags: list[str] = dataclasses.field(default_factory=list)
    visibility: str | None = None          # None: Glance's default view; 'all'
    member_status: str = 'accepted'
    os_hidden: bool | None = False          # default listing hides hidden images
    marker: str | None = None
    limit: int = 25
    sort: list[tuple[str, str]] = dataclasses.field(
        default_factory=lambda: [('created_at', 'desc')])


class ImageDatabase(Protocol):
    def image_create(self, values: Row, properties: dict[str, str],
                     tags: list[str]) -> Row: ...
    def image_get(self, image_id: str) -> Row: ...
    def image_update(self, image_id: str, values: Row, *,
                     set_properties: dict[str, str] | None = None,
                     remove_properties: list[str] | None = None,
                     tags: list[str] | None = None,
                     add_locations: list[tuple[str, Row]] | None = None,
                     remove_locations: list[str] | None = None,
                     expect_status: tuple[str, ...] | None = None,
                     lease: str | None = None) -> Row: ...
    def image_delete(self, image_id: str) -> Row: ...
    def image_list(self, query: ListQuery) -> list[Row]: ...
    def image_tag_add(self, image_id: str, tag: str) -> None: ...
    def image_tag_delete(self, image_id: str, tag: str) -> None: ...
    def member_list(self, image_id: str) -> list[Row]: ...
    def member_get(self, image_id: str, member: str) -> Row: ...
    def member_create(self, image_id: str, member: str) -> Row: ...
    def member_update(self, image_id: str, member: str, status: str) -> Row: ...
    def member_delete(self, image_id: str, member: str) -> None: ...
    def storage_used(self, owner: str | None, exclude_image: str | None = None) -> int: ...
    def image_count(self, owner: str | None) -> int: ...

    # An upload is a lease: ``upload_start`` moves a queued image to saving under the
    # uploader's token ``lease``, valid ``seconds`` by the database layer's clock;
    # ``upload_renew`` extends it while data flows (False: the lease is no longer
    # ours); ``image_update(..., lease=...)`` ends it (activate, back to queued), only
    # for its holder. ``uploads_expired`` lists saving images whose lease ran out;
    # ``upload_takeover`` gives such an image's lease to a reaper (False if it is
    # alive again or gone), which cleans up and then ends it.
    def upload_start(self, image_id: str, lease: str, seconds: int) -> Row: ...
    def upload_renew(self, image_id: str, lease: str, seconds: int) -> bool: ...
    def upload_takeover(self, image_id: str, lease: str, seconds: int) -> bool: ...
    def uploads_expired(self, limit: int = 100) -> list[str]: ...

    def data_owners(self) -> Row:
        """What owns store data: ``locations`` ({image_id, url, metadata}) of the live
        images, and the ids of the images ``uploading`` (saving)."""
    def purge(self, age_in_days: int, max_rows: int | None = None) -> int: ...


def load(conf) -> ImageDatabase:
    """The image database named by ``data_api``."""
    name = DATA_API_ALIASES.get(conf.data_api, conf.data_api)
    return importlib.import_module(name).connect(conf)
