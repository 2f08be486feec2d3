"""The domain controller: what may happen to an image, by whom, and in which status.

Every operation loads the image through the caller's view (404 for what the caller may
not see), enforces the Glance policy rule, drives the status machine, and only then
touches the database or the stores.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid

from glint import notifications
from glint.common import exception, hashing, outgoing
from glint.db.api import ImageDatabase, ListQuery
from glint.domain import limits
from glint.domain.model import WRITABLE_FIELDS, Image, Member, isotime
from glint.domain.protection import PropertyProtection
from glint.notifier import NOOP, NoopNotifier
from glint.policy import Enforcer
from glint.store import base as store_base
from glint.store.backend import Stores

LOG = logging.getLogger(__name__)

# Only these may change once an image has data (Glance's rule for formats).
QUEUED_ONLY = frozenset({'disk_format', 'container_format'})
UNITS = {'B': 1, 'KB': 1024, 'MB': 1024 ** 2, 'GB': 1024 ** 3, 'TB': 1024 ** 4}


@dataclasses.dataclass
class Change:
    """One JSON-patch operation on a top-level image attribute."""
    op: str            # add | replace | remove
    name: str
    value: object = None
    exclusive: bool = False    # draft-4 "add": the attribute must not exist yet


def parse_size(text: str) -> int:
    """'10GB' -> bytes, as user_storage_quota is written."""
    text = text.strip().upper()
    for unit in ('TB', 'GB', 'MB', 'KB', 'B'):
        if text.endswith(unit):
            return int(text[:-len(unit)].strip()) * UNITS[unit]
    return int(text)


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


class ImageService:
    def __init__(self, conf, db: ImageDatabase, stores: Stores, enforcer: Enforcer,
                 protection: PropertyProtection | None = None,
                 notifier: NoopNotifier = NOOP):
        self.conf = conf
        self.db = db
        self.stores = stores
        self.policy = enforcer
        self.protection = protection
        self.notifier = notifier

    # -- notifications (Glance's events; the payload is built only when wanted) ------
    def _notify_image(self, event: str, row, **extra) -> None:
        if self.notifier.wants(event):
            self.notifier.info(event, notifications.image_payload(row, **extra))

    def _notify_member(self, event: str, row, **extra) -> None:
        if self.notifier.wants(event):
            self.notifier.info(event, notifications.member_payload(row, **extra))

    def _readable(self, ctx, image: Image) -> Image:
        """The image with only the custom properties the caller may read."""
        if self.protection:
            image.properties = self.protection.readable(ctx, image.properties)
        return image

    # -- reading ----------------------------------------------------------------
    def _visible(self, ctx, image: Image) -> bool:
        if ctx.is_admin or image.owner is None or image.owner == ctx.project_id:
            return True
        return image.visibility in ('public', 'community') or image.member is not None

    def get(self, ctx, image_id: str) -> Image:
        image = Image.from_row(self.db.image_get(image_id))
        if ctx.project_id and image.visibility == 'shared' and image.owner != ctx.project_id:
            try:
                self.db.member_get(image_id, ctx.project_id)
                image.member = ctx.project_id
            except exception.NotFound:
                pass
        if not self._visible(ctx, image) or not self._check(ctx, 'get_image', image):
            raise exception.NotFound('No image found with ID %s' % image_id)
        return self._readable(ctx, image)

    def _check(self, ctx, rule: str, image: Image) -> bool:
        return self.policy.check(ctx, rule, image.policy_target())

    def _enforce(self, ctx, rule: str, image: Image) -> None:
        self.policy.enforce(ctx, rule, image.policy_target())

    def list(self, ctx, query: ListQuery) -> list[Image]:
        self.policy.enforce(ctx, 'get_images', {'project_id': ctx.project_id,
                                                'owner': ctx.project_id})
        query.project_id, query.is_admin = ctx.project_id, ctx.is_admin
        return [self._readable(ctx, Image.from_row(row)) for row in self.db.image_list(query)]

    # -- metadata ---------------------------------------------------------------
    def _enforce_visibility(self, ctx, visibility: str | None, target: dict) -> None:
        rule = {'public': 'publicize_image', 'community': 'communitize_image'}.get(
            visibility or '')
        if rule:
            self.policy.enforce(ctx, rule, target)

    def create(self, ctx, values: dict, properties: dict[str, str],
               tags: list[str]) -> Image:
        values = dict(values)
        owner = values.pop('owner', None) or ctx.project_id
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
        self._notify_image('image.create', created)
        return Image.from_row(created)

    def update(self, ctx, image_id: str, changes: list[Change]) -> Image:
        image = self.get(ctx, image_id)
        self._enforce(ctx, 'modify_image', image)
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
        self._notify_image('image.update', row)
        return self._readable(ctx, Image.from_row(row))

    def _check_core_change(self, ctx, image: Image, change: Change) -> None:
        name = change.name
        if change.op == 'remove':
            raise exception.Forbidden('Property %s may not be removed.' % name)
        if name == 'visibility':
            self._enforce_visibility(ctx, change.value, image.policy_target())
        elif name == 'owner' and not ctx.is_admin:
            raise exception.Forbidden("Owner can't be updated by non admin.")
        elif name in QUEUED_ONLY and image.status != 'queued' \
                and change.value != getattr(image, name):
            raise exception.Forbidden('Attribute %s can be only replaced for a '
                                      'queued image.' % name)

    def delete(self, ctx, image_id: str) -> None:
        image = self.get(ctx, image_id)
        self._enforce(ctx, 'delete_image', image)
        if image.protected:
            raise exception.Forbidden('Image %s is protected and cannot be deleted.'
                                      % image_id)
        deleted = self.db.image_delete(image_id)
        if self.notifier.wants('image.delete'):
            self.notifier.info('image.delete', notifications.deleted_image_payload(deleted))
        for location in image.locations:
            self._delete_data(location['url'])

    def _delete_data(self, url: str) -> None:
        try:
            self.stores.for_url(url).delete(url)
        except exception.GlintError as e:
            LOG.warning('Image data at %s was not deleted: %s', url, e.msg)

    def set_status(self, ctx, image_id: str, action: str) -> None:
        """deactivate / reactivate, allowed from active or deactivated only."""
        image = self.get(ctx, image_id)
        self._enforce(ctx, action, image)
        if image.status not in ('active', 'deactivated'):
            raise exception.Forbidden("Not allowed to %s image in status '%s'"
                                      % (action, image.status))
        new = 'deactivated' if action == 'deactivate' else 'active'
        if image.status != new:     # Glance saves (and notifies image.update) on a change
            row = self.db.image_update(image_id, {'status': new},
                                       expect_status=('active', 'deactivated'))
            self._notify_image('image.update', row)

    def add_tag(self, ctx, image_id: str, tag: str) -> None:
        image = self.get(ctx, image_id)
        self._enforce(ctx, 'modify_image', image)
        limits.check('tags', len(set(image.tags) | {tag}), self.conf.image_tag_quota)
        self.db.image_tag_add(image_id, tag)
        self._notify_tags(image_id)

    def delete_tag(self, ctx, image_id: str, tag: str) -> None:
        image = self.get(ctx, image_id)
        self._enforce(ctx, 'modify_image', image)
        self.db.image_tag_delete(image_id, tag)
        self._notify_tags(image_id)

    def _notify_tags(self, image_id: str) -> None:
        """Glance saves the image after a tag change: image.update, read back only
        when someone listens."""
        if self.notifier.wants('image.update'):
            try:
                self._notify_image('image.update', self.db.image_get(image_id))
            except exception.NotFound:      # deleted meanwhile: nothing to tell
                pass

    # -- data -------------------------------------------------------------------
    def _upload_limit(self, image: Image) -> tuple[int, str]:
        limit, why = self.conf.image_size_cap, 'The incoming image is too large: ' \
            'the limit is %d bytes.' % self.conf.image_size_cap
        quota = parse_size(self.conf.user_storage_quota)
        if quota > 0:
            left = quota - self.db.storage_used(image.owner, exclude_image=image.id)
            if left < limit:
                limit, why = max(left, 0), ('Image exceeds the storage quota: %d bytes '
                                            'left of %d.' % (max(left, 0), quota))
        return limit, why

    def upload(self, ctx, image_id: str, body, size: int | None) -> None:
        """Store ``body`` (anything with ``readinto``, see glint.common.body) as the
        image's data."""
        image = self.get(ctx, image_id)
        self._enforce(ctx, 'upload_image', image)
        if image.status != 'queued':
            raise exception.Conflict('Image status transition from %s to saving is '
                                     'not allowed' % image.status)
        if not image.disk_format or not image.container_format:
            raise exception.BadRequest('Properties disk_format, container_format must '
                                       'be set prior to saving data.')
        limit, why = self._upload_limit(image)
        if size is not None and size > limit:
            raise exception.RequestEntityTooLarge(why)
        saving = self.db.image_update(image_id, {'status': 'saving'},
                                      expect_status=('queued',))
        self._notify_image('image.update', saving)
        self._notify_data('image.prepare', saving)
        try:
            stored, hashed = self._store(image_id, body, size, limit, why)
            if size is not None and stored.size != size:
                self._delete_data(stored.url)
                raise exception.BadRequest('Size of uploaded data (%d) does not match '
                                           'the declared size (%d).' % (stored.size, size))
        except BaseException as e:
            self._upload_failed(image_id, e)
            self._restore_queued(image_id)
            raise
        self._activate(image_id, stored, hashed)

    def _notify_data(self, event: str, row) -> None:
        """image.prepare / image.upload also carry Glance's import-progress lists."""
        if self.notifier.wants(event):
            extra = notifications.import_properties(row)
            self.notifier.info(event, notifications.image_payload(row, **extra))

    def _upload_failed(self, image_id: str, error: BaseException) -> None:
        """As Glance: an error-priority image.upload whose payload is the message."""
        if self.notifier.wants('image.upload'):
            self.notifier.error('image.upload', notifications.upload_failure(image_id, error))

    def _store(self, image_id: str, body, size: int | None, limit: int, why: str):
        store = self.stores.default
        return hashing.store_hashed(body, lambda chunks: store.add(image_id, chunks, size),
                                    self.conf.hashing_algorithm, limit, why)

    def _restore_queued(self, image_id: str) -> None:
        try:
            row = self.db.image_update(image_id, {'status': 'queued'},
                                       expect_status=('saving',))
        except (exception.NotFound, exception.Conflict):
            return
        self._notify_image('image.update', row)

    def _activate(self, image_id: str, stored: store_base.Stored,
                  hashed: hashing.Hashed) -> None:
        values = {'status': 'active', 'size': stored.size, 'checksum': hashed.checksum,
                  'os_hash_algo': hashed.algorithm, 'os_hash_value': hashed.os_hash_value}
        try:
            row = self.db.image_update(image_id, values, expect_status=('saving',),
                                       add_locations=[(stored.url, stored.metadata)])
        except (exception.NotFound, exception.Conflict):
            self._delete_data(stored.url)
            gone = exception.Gone('Image %s could not be found after upload. The image '
                                  'may have been deleted during the upload, cleaning '
                                  'up the chunks uploaded.' % image_id)
            self._upload_failed(image_id, gone)
            raise gone
        # Glance's order: the data is in (upload), the image is active, it was saved.
        self._notify_data('image.upload', row)
        self._notify_image('image.activate', row)
        self._notify_image('image.update', row)

    def download(self, ctx, image_id: str):
        """The image and an ``open(offset, length)`` for its data (None: no data)."""
        image = self.get(ctx, image_id)
        self._enforce(ctx, 'download_image', image)
        if image.status == 'deactivated' and not ctx.is_admin:
            raise exception.Forbidden('The requested image has been deactivated. '
                                      'Image data download is forbidden.')
        if not image.locations:
            return image, None
        url = image.locations[0]['url']
        store = self.stores.for_url(url)
        return image, lambda offset=0, length=None: store.open(url, offset, length)

    def sending(self, ctx, image: Image, reader: store_base.Reader,
                destination_ip: str | None) -> store_base.Reader:
        """The reader of a download, reporting image.send once the server has sent
        it (closed it); unchanged, at no cost, when nobody listens. A file stays a
        file (sendfile), see glint.common.outgoing."""
        if not self.notifier.wants('image.send'):
            return reader
        expected = reader.length

        def sent(count: int) -> None:
            notify = self.notifier.info if count == expected else self.notifier.error
            try:
                notify('image.send',
                       notifications.send_payload(image, ctx, count, destination_ip))
            except Exception as e:      # a notification must never break a response
                LOG.error('An error occurred during image.send notification: %s', e)
        return store_base.Reader(outgoing.on_close(reader.data, sent), reader.length)

    # -- members ----------------------------------------------------------------
    # As in Glance, member rules see the image's target, whose member_id is the caller's
    # own membership; a membership the caller may not see is not found (404).
    def _shared_image(self, ctx, image_id: str) -> Image:
        image = self.get(ctx, image_id)
        if image.visibility != 'shared':
            raise exception.Forbidden('Only shared images have members.')
        return image

    def _may_see_member(self, ctx, image: Image, member: str) -> bool:
        return ctx.is_admin or image.owner == ctx.project_id or member == ctx.project_id

    def _member_row(self, ctx, image: Image, member: str) -> dict:
        if not self._may_see_member(ctx, image, member):
            raise exception.NotFound('%s is not a member of image %s' % (member, image.id))
        return self.db.member_get(image.id, member)

    def list_members(self, ctx, image_id: str) -> list[Member]:
        image = self._shared_image(ctx, image_id)
        self._enforce(ctx, 'get_members', image)
        return [Member.from_row(r) for r in self.db.member_list(image_id)
                if self._may_see_member(ctx, image, r['member'])]

    def get_member(self, ctx, image_id: str, member: str) -> Member:
        try:
            image = self._shared_image(ctx, image_id)
            self._enforce(ctx, 'get_member', image)
        except exception.Forbidden as e:      # Glance's show hides it: 404
            raise exception.NotFound(e.msg)
        return Member.from_row(self._member_row(ctx, image, member))

    def add_member(self, ctx, image_id: str, member: str) -> Member:
        image = self._shared_image(ctx, image_id)
        self._enforce(ctx, 'add_member', image)
        limits.check('members for this image', len(self.db.member_list(image_id)) + 1,
                     self.conf.image_member_quota)
        row = self.db.member_create(image_id, member)
        self._notify_member('image.member.create', row)
        return Member.from_row(row)

    def update_member(self, ctx, image_id: str, member: str, status: str) -> Member:
        image = self._shared_image(ctx, image_id)
        self._member_row(ctx, image, member)
        self._enforce(ctx, 'modify_member', image)
        row = self.db.member_update(image_id, member, status)
        self._notify_member('image.member.update', row)
        return Member.from_row(row)

    def delete_member(self, ctx, image_id: str, member: str) -> None:
        image = self._shared_image(ctx, image_id)
        row = self._member_row(ctx, image, member)
        self._enforce(ctx, 'delete_member', image)
        self.db.member_delete(image_id, member)
        self._notify_member('image.member.delete', row, deleted=True,
                            deleted_at=isotime(dt.datetime.now(dt.UTC)))
