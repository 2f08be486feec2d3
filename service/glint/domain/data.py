"""Image data: upload (queued -> saving -> active, back to queued on failure) and
download, with the size cap and the owner's storage quota.

An upload holds a lease on its image (glint.db.api), renewed while data arrives; if the
worker dies or the client goes silent the lease expires and any worker reaps the image
(glint.domain.gateway): back to queued, partial data removed."""
from __future__ import annotations

import logging
import time
import uuid

from glint import notifications
from glint.common import exception, hashing, outgoing
from glint.domain import limits
from glint.domain.gateway import Gateway
from glint.domain.model import Image
from glint.store import base as store_base

LOG = logging.getLogger(__name__)
# An upload renews its lease (when due) after each slice of this many bytes arrives.
RENEW_SLICE = 256 * 1024


class ImageDataService:
    def __init__(self, gateway: Gateway):
        self.gateway = gateway
        self.conf = gateway.conf
        self.db = gateway.db
        self.notifier = gateway.notifier
        gateway.sweeping()      # from the start: a worker that restarted after a crash

    @property
    def multi_store(self) -> bool:
        return self.gateway.stores.multi

    @property
    def default_backend(self) -> str:
        return self.gateway.stores.default_id

    def backends(self, ctx, detail: bool = False) -> list:
        """The backends images can live in (multi-store), for /v2/info/stores; their
        details are the administrator's."""
        if not self.multi_store:
            raise exception.NotFound('Multi backend is not supported at this site.')
        if detail:
            self.gateway.policy.enforce(ctx, 'stores_info_detail', {})
        return list(self.gateway.stores.backends.values())

    # -- upload -----------------------------------------------------------------
    def upload(self, ctx, image_id: str, body, size: int | None,
               backend: str | None = None) -> None:
        """Store ``body`` (anything with ``readinto``, see glint.common.body) as the
        image's data, in ``backend`` (multi-store) or the default one."""
        image = self.gateway.get(ctx, image_id)
        self.gateway.enforce(ctx, 'upload_image', image)
        if image.status != 'queued':
            raise exception.Conflict('Image status transition from %s to saving is '
                                     'not allowed' % image.status)
        if not image.disk_format or not image.container_format:
            raise exception.BadRequest('Properties disk_format, container_format must '
                                       'be set prior to saving data.')
        backend, store = self.gateway.stores.for_upload(backend)
        limit, why = self._upload_limit(image)
        if size is not None and size > limit:
            raise exception.RequestEntityTooLarge(why)
        lease, seconds = uuid.uuid4().hex, self.conf.upload_lease_time
        saving = self.db.upload_start(image_id, lease, seconds)
        self.gateway.notify_image('image.update', saving)
        self._notify_data('image.prepare', saving)
        try:
            renewing = _Renewing(body, lambda: self.db.upload_renew(image_id, lease, seconds),
                                 seconds / 4, image_id)
            stored, hashed = hashing.store_hashed(
                renewing, lambda chunks: store.add(image_id, chunks, size),
                self.conf.hashing_algorithm, limit, why)
            stored.metadata.update(self.gateway.stores.location_metadata(backend))
            if size is not None and stored.size != size:
                self.gateway.delete_data(stored.location)
                raise exception.BadRequest('Size of uploaded data (%d) does not match '
                                           'the declared size (%d).' % (stored.size, size))
        except BaseException as e:
            self._upload_failed(image_id, e)
            self._restore_queued(image_id, lease)
            raise
        self._activate(image_id, lease, stored, hashed)

    def _upload_limit(self, image: Image) -> tuple[int, str]:
        """The most bytes this upload may store, and the 413 message past it."""
        limit, why = self.conf.image_size_cap, 'The incoming image is too large: ' \
            'the limit is %d bytes.' % self.conf.image_size_cap
        quota = limits.parse_size(self.conf.user_storage_quota)
        if quota > 0:
            left = quota - self.db.storage_used(image.owner, exclude_image=image.id)
            if left < limit:
                limit, why = max(left, 0), ('Image exceeds the storage quota: %d bytes '
                                            'left of %d.' % (max(left, 0), quota))
        return limit, why

    def _notify_data(self, event: str, row) -> None:
        """image.prepare / image.upload also carry Glance's import-progress lists."""
        if self.notifier.wants(event):
            extra = notifications.import_properties(row)
            self.notifier.info(event, notifications.image_payload(row, **extra))

    def _upload_failed(self, image_id: str, error: BaseException) -> None:
        """As Glance: an error-priority image.upload whose payload is the message."""
        if self.notifier.wants('image.upload'):
            self.notifier.error('image.upload', notifications.upload_failure(image_id, error))

    def _restore_queued(self, image_id: str, lease: str) -> None:
        try:
            row = self.db.image_update(image_id, {'status': 'queued'},
                                       expect_status=('saving',), lease=lease)
        except (exception.NotFound, exception.Conflict):
            return      # deleted, or reaped already
        except Exception as e:
            LOG.warning('Image %s stays in saving until its upload lease expires and a '
                        'worker returns it to queued: %s', image_id, e)
            return
        self.gateway.notify_image('image.update', row)

    def _activate(self, image_id: str, lease: str, stored: store_base.Stored,
                  hashed: hashing.Hashed) -> None:
        values = {'status': 'active', 'size': stored.size, 'checksum': hashed.checksum,
                  'os_hash_algo': hashed.algorithm, 'os_hash_value': hashed.os_hash_value}
        try:
            row = self.db.image_update(image_id, values, expect_status=('saving',),
                                       add_locations=[(stored.url, stored.metadata)],
                                       lease=lease)
        except (exception.NotFound, exception.Conflict) as e:
            self.gateway.delete_data(stored.location)
            lost = exception.Gone('Image %s could not be found after upload. The image '
                                  'may have been deleted during the upload, cleaning '
                                  'up the chunks uploaded.' % image_id) \
                if isinstance(e, exception.NotFound) else exception.Conflict(
                    'The upload of image %s was given up: no data arrived for longer '
                    'than its lease.' % image_id)
            self._upload_failed(image_id, lost)
            raise lost
        except Exception as e:
            row = self._settle(image_id, lease, stored, e)
        # Glance's order: the data is in (upload), the image is active, it was saved.
        self._notify_data('image.upload', row)
        self.gateway.notify_image('image.activate', row)
        self.gateway.notify_image('image.update', row)

    def _settle(self, image_id: str, lease: str, stored: store_base.Stored,
                error: Exception):
        """Activation failed in the database, perhaps after it committed (a connection
        lost on COMMIT): the image decides. Active with this data: done after all.
        Still saving: the data goes, the image back to queued. Unreadable: the data
        stays until the lease expires and a reaper removes it with the image."""
        try:
            row = self.db.image_get(image_id)
        except Exception:
            LOG.warning('Image %s: activation failed (%s) and its outcome is unknown; '
                        'its data goes with its upload lease if it did not happen.',
                        image_id, error)
            raise error from None
        if row['status'] == 'active' and any(loc['url'] == stored.url
                                             for loc in row['locations']):
            return row
        self.gateway.delete_data(stored.location)
        self._upload_failed(image_id, error)
        self._restore_queued(image_id, lease)
        raise error

    # -- one store's copy ---------------------------------------------------------
    def delete_from_store(self, ctx, backend: str, image_id: str) -> None:
        """Remove the image's data from one backend of several (multi-store)."""
        stores = self.gateway.stores
        if not stores.multi:
            raise exception.NotFound('Multi backend is not supported at this site.')
        if backend not in stores.backends:
            raise exception.Conflict('The selected store %s is not available on this '
                                     'node.' % backend)
        image = self.gateway.get(ctx, image_id)
        self.gateway.enforce(ctx, 'get_image_location', image)
        self.gateway.enforce(ctx, 'delete_image_location', image)
        if image.status != 'active':
            raise exception.Conflict("It's not allowed to remove image data from store "
                                     "if image status is not 'active'")
        if len(image.locations) == 1:
            raise exception.Forbidden('Cannot delete image data from the only store '
                                      'containing it. Consider deleting the image instead.')
        location = next((loc for loc in image.locations
                         if loc['metadata'].get('store') == backend), None)
        if location is None:
            raise exception.NotFound('Image %s is not stored in store %s.'
                                     % (image_id, backend))
        self.gateway.refuse_if_in_use(image_id, [location])
        row = self.db.image_update(image_id, {}, remove_locations=[location['url']],
                                   expect_status=('active',))
        self.gateway.delete_data(location)
        self.gateway.notify_image('image.update', row)

    # -- download ---------------------------------------------------------------
    def download(self, ctx, image_id: str):
        """The image and an ``open(offset, length)`` for its data (None: no data).
        ``open`` tries the locations heaviest backend first; a backend that fails
        passes the request to the next, and the last one's error is the answer."""
        image = self.gateway.get(ctx, image_id)
        self.gateway.enforce(ctx, 'download_image', image)
        if image.status == 'deactivated' and not ctx.is_admin:
            raise exception.Forbidden('The requested image has been deactivated. '
                                      'Image data download is forbidden.')
        if not image.locations:
            return image, None
        locations = self.gateway.stores.by_weight(image.locations)

        def open_data(offset=0, length=None):
            for location in locations:
                try:
                    store = self.gateway.stores.for_location(location)
                    return store.open(location['url'], offset, length)
                except (exception.StoreError, exception.NotFound) as e:
                    LOG.warning('Image %s: location %s failed (%s)%s', image_id,
                                location['url'], e.msg,
                                '' if location is locations[-1] else '; trying the next')
                    failed = e
            raise failed
        return image, open_data

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


class _Renewing:
    """An upload body that renews the upload's lease every ``interval`` seconds while
    data arrives, and stops the upload once the lease is lost (reaped: no data came
    for longer than the lease)."""

    def __init__(self, body, renew, interval: float, image_id: str):
        self.body, self.renew, self.interval = body, renew, interval
        self.image_id = image_id
        self.due = time.monotonic() + interval

    def readinto(self, view) -> int:
        """Fill ``view`` (fewer bytes only at the end), a slice at a time so that a
        slow client still renews between slices."""
        filled = 0
        while filled < len(view):
            want = min(RENEW_SLICE, len(view) - filled)
            got = self.body.readinto(view[filled:filled + want])
            filled += got
            if time.monotonic() >= self.due:
                self._renew()
            if got < want:
                break
        return filled

    def _renew(self) -> None:
        try:
            held = self.renew()
        except Exception as e:        # the database is away: go on, try again later
            LOG.warning('Image %s: upload lease not renewed: %s', self.image_id, e)
            held = True
        if not held:
            raise exception.Conflict('The upload of image %s was given up: no data '
                                     'arrived for longer than its lease.' % self.image_id)
        self.due = time.monotonic() + self.interval
