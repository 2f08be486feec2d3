"""Notifications, as Glance emits them, over oslo.messaging (messagingv2 for Ceilometer).

Sending happens on a background thread with a bounded queue, so a slow or unreachable
broker never delays an API call: the notification is dropped and the failure logged.
``disabled_notifications`` silences events by exact name or by prefix ("image.member").
"""
from __future__ import annotations

import logging
import queue
import threading

import oslo_messaging
from oslo_config import cfg

LOG = logging.getLogger(__name__)

notifier_opts = [
    cfg.StrOpt('default_publisher_id', default='image.localhost',
               help='publisher_id of the notifications this service sends.'),
    cfg.ListOpt('disabled_notifications', default=[],
                help='Event types not to send: exact names ("image.upload") or '
                     'prefixes ("image.member").'),
    cfg.IntOpt('notification_queue_size', default=1000, min=1,
               help='Notifications waiting for the broker before new ones are '
                    'dropped (Glint).'),
]
cfg.CONF.register_opts(notifier_opts)


def list_opts():
    return [('DEFAULT', notifier_opts)]


class Notifier:
    """``info``/``error`` never block and never raise."""

    def __init__(self, conf: cfg.ConfigOpts):
        self._disabled = tuple(conf.disabled_notifications)
        transport = oslo_messaging.get_notification_transport(conf)
        self._notifier = oslo_messaging.Notifier(
            transport, publisher_id=conf.default_publisher_id)
        self.enabled = self._notifier.is_enabled()
        self._queue: queue.Queue = queue.Queue(conf.notification_queue_size)
        if self.enabled:
            threading.Thread(target=self._send_forever, name='notifier',
                             daemon=True).start()

    def _wanted(self, event_type: str) -> bool:
        return self.enabled and not any(
            event_type == d or event_type.startswith(d + '.') for d in self._disabled)

    def info(self, ctx, event_type: str, payload: dict) -> None:
        self._put('info', ctx, event_type, payload)

    def error(self, ctx, event_type: str, payload) -> None:
        self._put('error', ctx, event_type, payload)

    def _put(self, priority, ctx, event_type, payload) -> None:
        if not self._wanted(event_type):
            return
        try:
            self._queue.put_nowait((priority, ctx.to_dict() if ctx else {},
                                    event_type, payload))
        except queue.Full:
            LOG.warning('Notification %s dropped: %d notifications are waiting for '
                        'the message broker.', event_type, self._queue.qsize())

    def _send_forever(self) -> None:
        while True:
            priority, ctx, event_type, payload = self._queue.get()
            try:
                getattr(self._notifier, priority)(ctx, event_type, payload)
            except Exception as e:      # the broker's failures are many; log them all
                LOG.error('Notification %s could not be sent: %s', event_type, e)
