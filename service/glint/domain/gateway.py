"""What the image services share: the caller's view of the image database.

Every operation loads the image through the caller's view (404 for what the caller may
not see), enforces the Glance policy rule on it, drives the status machine, and only
then touches the database or the stores. The gateway holds what every service needs
for that (the database, stores, policy, property protections, notifier) so the
services split by concern (images, data, members) without repeating those rules.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import random
import threading
import time
import uuid

from oslo_config import cfg

from glint import notifications
from glint.common import exception
from glint.db.api import ImageDatabase
from glint.domain.model import Image
from glint.domain.protection import PropertyProtection
from glint.notifier import NOOP, NoopNotifier
from glint.policy import Enforcer
from glint.store.backend import Stores

LOG = logging.getLogger(__name__)
_SWEEPER_LOCK = threading.Lock()


@dataclasses.dataclass
class Gateway:
    conf: cfg.ConfigOpts
    db: ImageDatabase
    stores: Stores
    policy: Enforcer
    protection: PropertyProtection | None = None
    notifier: NoopNotifier = NOOP
    _sweeper_pid: int | None = dataclasses.field(default=None, init=False, repr=False)

    # -- the caller's view ------------------------------------------------------
    def get(self, ctx, image_id: str) -> Image:
        """The image as the caller sees it; NotFound when the caller may not see it.
        An image whose upload is gone is seen back in queued (``reap``)."""
        self.sweeping()
        row = self.db.image_get(image_id)
        if row['status'] == 'saving':
            row = self.reap(image_id) or row
        image = Image.from_row(row)
        if ctx.project_id and image.visibility == 'shared' and image.owner != ctx.project_id:
            try:
                self.db.member_get(image_id, ctx.project_id)
                image.member = ctx.project_id
            except exception.NotFound:
                pass
        if not self._visible(ctx, image) or not self.check(ctx, 'get_image', image):
            raise exception.NotFound('No image found with ID %s' % image_id)
        return self.readable(ctx, image)

    @staticmethod
    def _visible(ctx, image: Image) -> bool:
        if ctx.is_admin or image.owner is None or image.owner == ctx.project_id:
            return True
        return image.visibility in ('public', 'community') or image.member is not None

    def readable(self, ctx, image: Image) -> Image:
        """The image with only the custom properties the caller may read."""
        if self.protection:
            image.properties = self.protection.readable(ctx, image.properties)
        return image

    # -- policy -----------------------------------------------------------------
    def check(self, ctx, rule: str, image: Image) -> bool:
        return self.policy.check(ctx, rule, image.policy_target())

    def enforce(self, ctx, rule: str, image: Image) -> None:
        self.policy.enforce(ctx, rule, image.policy_target())

    # -- effects ----------------------------------------------------------------
    def notify_image(self, event: str, row, **extra) -> None:
        """Glance's image events; the payload is built only when someone listens."""
        if self.notifier.wants(event):
            self.notifier.info(event, notifications.image_payload(row, **extra))

    def refuse_if_in_use(self, image_id: str, locations) -> None:
        """409 before anything is deleted when a store says the data is depended on."""
        for location in locations:
            if self.stores.for_location(location).in_use(location['url']):
                raise exception.Conflict('Image %s could not be deleted because it is '
                                         'in use (its data has clones).' % image_id)

    def delete_image_data(self, image: Image) -> None:
        """All the data of a deleted image: its locations, and whatever an upload
        left where the stores put data under its id (an image in saving has no
        location yet)."""
        for location in image.locations:
            self.delete_data(location)
        if not image.locations:
            self.discard(image.id)

    def discard(self, image_id: str) -> bool:
        """Remove what an upload of ``image_id`` may have left in any writable backend;
        False if a backend failed (logged)."""
        done = True
        for backend in self.stores.backends.values():
            if backend.store.read_only:
                continue
            try:
                backend.store.discard(image_id)
            except exception.GlintError as e:
                LOG.warning('Partial data of image %s in backend %s was not removed: %s',
                            image_id, backend.id, e.msg)
                done = False
        return done

    # -- uploads whose uploader is gone --------------------------------------------
    # An upload is a lease in the database (glint.db.api). Any API worker of any host
    # may reap an image whose lease expired: when someone reads it (get), and in a
    # sweep each worker runs every half lease, so that an image nobody reads is
    # cleaned up too, after a crash or a restart as well. The database decides which
    # reaper wins (upload_takeover); the winner removes the data before the image is
    # queued again, so a new upload never meets a reaper deleting its data.
    def reap(self, image_id: str):
        """The image back in queued without its partial data if its upload's lease
        expired (its row), else None."""
        lease = uuid.uuid4().hex
        if not self.db.upload_takeover(image_id, lease, self.conf.upload_lease_time):
            return None
        LOG.warning('Image %s: its upload is gone (lease expired); removing its partial '
                    'data and returning it to queued.', image_id)
        if not self.discard(image_id):
            return None       # the lease is the reaper's now: another try once it expires
        try:
            row = self.db.image_update(image_id, {'status': 'queued'},
                                       expect_status=('saving',), lease=lease)
        except (exception.NotFound, exception.Conflict):
            return None       # deleted meanwhile
        self.notify_image('image.update', row)
        return row

    def sweep(self) -> int:
        """Reap every image whose upload's lease expired; how many were."""
        return sum(self.reap(image_id) is not None
                   for image_id in self.db.uploads_expired())

    def sweeping(self) -> None:
        """This process's sweeper, started on first use (so it runs in each worker,
        not in a parent that forks)."""
        pid = os.getpid()
        with _SWEEPER_LOCK:
            if self._sweeper_pid == pid:
                return
            self._sweeper_pid = pid
        threading.Thread(target=self._sweep_forever, name='upload-reaper',
                         daemon=True).start()

    def _sweep_forever(self) -> None:
        half = self.conf.upload_lease_time / 2
        while True:
            # spread out: the workers of a cloud do not all ask at the same moment
            time.sleep(half * random.uniform(0.75, 1.0))
            try:
                self.sweep()
            except Exception as e:      # the database or a store is down: next time
                LOG.warning('Sweeping expired uploads failed: %s', e)

    def delete_data(self, location: dict) -> None:
        """Best effort: data left behind is logged, never an error for the caller."""
        try:
            self.stores.for_location(location).delete(location['url'])
        except exception.GlintError as e:
            LOG.warning('Image data at %s was not deleted: %s', location['url'], e.msg)
