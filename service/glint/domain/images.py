"""Images: metadata, visibility, status (deactivate / reactivate), tags, deletion.

The data (upload, download) is glint.domain.data, members glint.domain.members; all
three see images through glint.domain.gateway.
"""
from __future__ import annotations

import dataclasses
import uuid

from glint import notifications
from glint.common import exception
from glint.db.api import ListQuery
from glint.domain import limits
from glint.domain.gateway import Gateway
from glint.domain.model import INTEGER_MAX, WRITABLE_FIELDS, Image

# Only these may change once an image has data (Glance's rule for formats).
QUEUED_ONLY = frozenset({'disk_format', 'container_format'})


@dataclasses.dataclass
class Change:
    """One JSON-patch operation on a top-level image attribute."""
    op: str            # add | replace | remove
    name: str
    value: object = None
    exclusive: bool = False    # draft-4 "add": the attribute must not exist yet


@dataclasses.dataclass
class Usage:
    """A project's stored bytes and images, against its storage quota (0: none)."""
    storage_quota: int
    storage_used: int
    image_count: int


class _PropertyChanges:
    """Custom-property operations of one PATCH, applied in order."""

    def __init__(self, properties: dict[str, str]):
        self.now = dict(properties)
        self.set: dict[str, str] = {}
        self.removed: list[str] = []
        self.added = False

    def apply(self, change: Change) -> str:
        """Apply one change; returns the operation it is: create, update or delete."""
        name = change.name
        exists = name in self.now
        if not exists and change.op != 'add':
            raise exception.Conflict('Property %s does not exist.' % name)
        if change.op == 'remove':
            del self.now[name]
            self.set.pop(name, None)
            self.removed.append(name)
            return 'delete'
        self.now[name] = self.set[name] = change.value
        self.added |= not exists
        return 'update' if exists else 'create'


def _check_minimum(name: str, value: int) -> None:
    """min_disk / min_ram: not negative, and within their column (Glance's messages)."""
    if value < 0:
        raise exception.BadRequest("Invalid value '%d' for parameter '%s': Cannot be a "
                                   "negative value" % (value, name))
    if value > INTEGER_MAX[name]:
        raise exception.BadRequest("'%s' value out of range, must not exceed %d."
                                   % (name, INTEGER_MAX[name]))


class ImageService:
    def __init__(self, gateway: Gateway):
        self.gateway = gateway
        self.conf = gateway.conf
        self.db = gateway.db
        self.policy = gateway.policy
        self.protection = gateway.protection
        self.notifier = gateway.notifier

    # -- reading ----------------------------------------------------------------
    def get(self, ctx, image_id: str) -> Image:
        return self.gateway.get(ctx, image_id)

    def list(self, ctx, query: ListQuery) -> list[Image]:
        self.policy.enforce(ctx, 'get_images', {'project_id': ctx.project_id,
                                                'owner': ctx.project_id})
        query.project_id, query.is_admin = ctx.project_id, ctx.is_admin
        return [self.gateway.readable(ctx, Image.from_row(row))
                for row in self.db.image_list(query)]

    def usage(self, ctx) -> Usage:
        """The caller's project (/v2/info/usage)."""
        owner = ctx.project_id
        # int(): SUM over a BIGINT is a Decimal on MariaDB and PostgreSQL, which JSON
        # cannot carry
        return Usage(limits.parse_size(self.conf.user_storage_quota),
                     int(self.db.storage_used(owner)), self.db.image_count(owner))

    # -- metadata ---------------------------------------------------------------
    def _enforce_visibility(self, ctx, visibility: str | None, target: dict) -> None:
        rule = {'public': 'publicize_image', 'community': 'communitize_image'}.get(
            visibility or '')
        if rule:
            self.policy.enforce(ctx, rule, target)

    def create(self, ctx, values: dict, properties: dict[str, str],
               tags: list[str]) -> Image:
        values = dict(values)
        for name in ('min_disk', 'min_ram'):
            _check_minimum(name, values.get(name, 0))
        owner = values.pop('owner', None) or ctx.project_id
        if owner is None and not ctx.is_admin:
            # Glance treats an image without an owner as everyone's.
            raise exception.Forbidden('An image needs an owner: create it with a '
                                      'project-scoped token.')
        target = dict(values, owner=owner, project_id=owner, **properties)
        if not self.policy.check(ctx, 'add_image', target):
            if owner != ctx.project_id:
                raise exception.Forbidden('You are not permitted to create images '
                                          "owned by '%s'." % owner)
            self.policy.enforce(ctx, 'add_image', target)
        self._enforce_visibility(ctx, values.get('visibility'), target)
        for name in properties:
            if self.protection:
                self.protection.enforce(ctx, name, 'create')
        limits.check_properties(properties, self.conf.image_property_quota)
        limits.check('tags', len(set(tags)), self.conf.image_tag_quota)
        row = {'visibility': 'shared', 'protected': False, 'os_hidden': False,
               'min_disk': 0, 'min_ram': 0, **values,
               'id': values.get('id') or str(uuid.uuid4()),
               'owner': owner, 'status': 'queued'}
        created = self.db.image_create(row, properties, tags)
        self.gateway.notify_image('image.create', created)
        return Image.from_row(created)

    def update(self, ctx, image_id: str, changes: list[Change]) -> Image:
        image = self.get(ctx, image_id)
        self.gateway.enforce(ctx, 'modify_image', image)
        values, tags = {}, None
        props = _PropertyChanges(image.properties)
        for change in changes:
            name, value = change.name, change.value
            if change.exclusive and (name in ('tags', *WRITABLE_FIELDS) or name in props.now):
                raise exception.Conflict('Property %s already present.' % name)
            if name == 'tags':
                if change.op == 'remove':
                    raise exception.Forbidden('Property tags may not be removed.')
                tags = list(dict.fromkeys(value))
                limits.check('tags', len(tags), self.conf.image_tag_quota)
            elif name in WRITABLE_FIELDS:
                self._check_core_change(ctx, image, change)
                values[name] = value
            else:
                op = props.apply(change)
                if self.protection:
                    self.protection.enforce(ctx, name, op)
        if not changes:
            return image
        if props.added:
            limits.check_properties(props.now, self.conf.image_property_quota)
        row = self.db.image_update(image_id, values, set_properties=props.set,
                                   remove_properties=props.removed, tags=tags)
        self.gateway.notify_image('image.update', row)
        return self.gateway.readable(ctx, Image.from_row(row))

    def _check_core_change(self, ctx, image: Image, change: Change) -> None:
        name = change.name
        if change.op == 'remove':
            raise exception.Forbidden('Property %s may not be removed.' % name)
        if name == 'visibility':
            self._enforce_visibility(ctx, change.value, image.policy_target())
        elif name in ('min_disk', 'min_ram'):
            _check_minimum(name, change.value)
        elif name == 'owner' and not ctx.is_admin:
            raise exception.Forbidden("Owner can't be updated by non admin.")
        elif name in QUEUED_ONLY and image.status != 'queued' \
                and change.value != getattr(image, name):
            raise exception.Forbidden('Attribute %s can be only replaced for a '
                                      'queued image.' % name)

    def delete(self, ctx, image_id: str) -> None:
        image = self.get(ctx, image_id)
        self.gateway.enforce(ctx, 'delete_image', image)
        if image.protected:
            raise exception.Forbidden('Image %s is protected and cannot be deleted.'
                                      % image_id)
        self.gateway.refuse_if_in_use(image_id, image.locations)
        deleted = self.db.image_delete(image_id)
        if self.notifier.wants('image.delete'):
            self.notifier.info('image.delete',
                               notifications.deleted_image_payload(deleted))
        self.gateway.delete_image_data(image)

    def set_status(self, ctx, image_id: str, action: str) -> None:
        """deactivate / reactivate, allowed from active or deactivated only."""
        image = self.get(ctx, image_id)
        self.gateway.enforce(ctx, action, image)
        if image.status not in ('active', 'deactivated'):
            raise exception.Forbidden("Not allowed to %s image in status '%s'"
                                      % (action, image.status))
        new = 'deactivated' if action == 'deactivate' else 'active'
        if image.status != new:     # Glance saves (and notifies image.update) on a change
            row = self.db.image_update(image_id, {'status': new},
                                       expect_status=('active', 'deactivated'))
            self.gateway.notify_image('image.update', row)

    def add_tag(self, ctx, image_id: str, tag: str) -> None:
        image = self.get(ctx, image_id)
        self.gateway.enforce(ctx, 'modify_image', image)
        limits.check('tags', len(set(image.tags) | {tag}), self.conf.image_tag_quota)
        self.db.image_tag_add(image_id, tag)
        self._notify_tags(image_id)

    def delete_tag(self, ctx, image_id: str, tag: str) -> None:
        image = self.get(ctx, image_id)
        self.gateway.enforce(ctx, 'modify_image', image)
        self.db.image_tag_delete(image_id, tag)
        self._notify_tags(image_id)

    def _notify_tags(self, image_id: str) -> None:
        """Glance saves the image after a tag change: image.update, read back only
        when someone listens."""
        if self.notifier.wants('image.update'):
            try:
                self.gateway.notify_image('image.update', self.db.image_get(image_id))
            except exception.NotFound:      # deleted meanwhile: nothing to tell
                pass
