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


@dataclasses.dataclass
class Gateway:
    conf: cfg.ConfigOpts
    db: ImageDatabase
    stores: Stores
    policy: Enforcer
    protection: PropertyProtection | None = None
    notifier: NoopNotifier = NOOP

    # -- the caller's view ------------------------------------------------------
    def get(self, ctx, image_id: str) -> Image:
        """The image as the caller sees it; NotFound when the caller may not see it."""
        image = Image.from_row(self.db.image_get(image_id))
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

    def delete_data(self, location: dict) -> None:
        """Best effort: data left behind is logged, never an error for the caller."""
        try:
            self.stores.for_location(location).delete(location['url'])
        except exception.GlintError as e:
            LOG.warning('Image data at %s was not deleted: %s', location['url'], e.msg)
