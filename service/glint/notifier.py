"""Notifications, as Glance emits them, over oslo.messaging (messagingv2 for Ceilometer).

Configured exactly as Glance is: ``[oslo_messaging_notifications] driver`` (messagingv2,
messaging, log, routing, noop; none means off), ``topics``, ``transport_url`` (else
``[DEFAULT] transport_url``), ``retry``; ``[oslo_messaging_rabbit]`` is oslo.messaging's
own. As in Glance the default exchange is ``glance`` (``[DEFAULT] control_exchange``).

Sending happens on a background thread with a bounded queue, so a slow or unreachable
broker never delays an API call: the broker's failures are logged and, once the queue
is full, new notifications are dropped (and that is logged too). With no driver the
notifier is off and ``wants`` is all an API call pays.
``disabled_notifications`` silences events by exact name or by dotted prefix ("image",
"image.member").
"""
from __future__ import annotations

import atexit
import logging
import queue
import threading
import time

from oslo_config import cfg

from glint.common import config

LOG = logging.getLogger(__name__)

notifier_opts = [
    cfg.StrOpt('default_publisher_id', default='image.localhost',
               help='publisher_id of the notifications this service sends.'),
    cfg.ListOpt('disabled_notifications', default=[],
                help='Event types not to send: exact names ("image.upload") or '
                     'prefixes ("image.member", "image").'),
    cfg.IntOpt('notification_queue_size', default=1000, min=1,
               help='Notifications waiting for the broker before new ones are '
                    'dropped (Glint).'),
]
cfg.CONF.register_opts(notifier_opts)

CONTROL_EXCHANGE = 'glance'     # Glance's default exchange (glance.notifier.set_defaults)
FLUSH_AT_EXIT = 3.0             # seconds a stopping worker waits for queued notifications


def list_opts():
    return [('DEFAULT', notifier_opts)]


def set_defaults() -> None:
    """Glance's defaults in oslo.messaging: the ``glance`` exchange (the service and
    oslo-config-generator both call this: entry point oslo.config.opts.defaults)."""
    import oslo_messaging
    oslo_messaging.set_transport_defaults(CONTROL_EXCHANGE)


def configured_drivers(conf: cfg.ConfigOpts) -> list[str]:
    """``[oslo_messaging_notifications] driver``, read without importing oslo.messaging
    (with eventlet through oslo.service, 22 MB of every worker's memory): a private
    ConfigOpts declares just that option and reads the same files."""
    group = 'oslo_messaging_notifications'
    try:
        drivers = conf[group].driver        # registered already: oslo.messaging is in
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
        probe = cfg.ConfigOpts()
        probe.register_opt(cfg.MultiStrOpt('driver', default=[]), group=group)
        probe(args=[], default_config_files=config.config_files(conf),
              default_config_dirs=[])
        drivers = probe[group].driver
    return [d for d in drivers if d != 'noop']


def build(conf: cfg.ConfigOpts) -> NoopNotifier:
    """The notifier the configuration asks for; NOOP (and no oslo.messaging) when no
    driver is configured."""
    return Notifier(conf) if configured_drivers(conf) else NOOP


class NoopNotifier:
    """Notifications off: nothing is wanted, nothing is sent."""
    enabled = False

    def wants(self, event_type: str) -> bool:
        return False

    def info(self, event_type: str, payload) -> None:
        pass

    def error(self, event_type: str, payload) -> None:
        pass


NOOP = NoopNotifier()


def disabled(event_type: str, disabled_names) -> bool:
    """True when ``event_type`` or one of its dotted prefixes is in the list."""
    return any(event_type == d or event_type.startswith(d + '.') for d in disabled_names)


class Notifier(NoopNotifier):
    """``info``/``error`` never block and never raise.

    As Glance does, messages carry an empty request context: the caller's token never
    travels with them."""

    def __init__(self, conf: cfg.ConfigOpts):
        import oslo_messaging
        set_defaults()
        transport = oslo_messaging.get_notification_transport(conf)
        drivers = [d for d in conf.oslo_messaging_notifications.driver if d != 'noop']
        self.enabled = bool(drivers)
        self._disabled = tuple(conf.disabled_notifications)
        self._wanted: dict[str, bool] = {}
        self._queue: queue.Queue = queue.Queue(conf.notification_queue_size)
        self._dropped = 0
        if self.enabled:
            self._notifier = oslo_messaging.Notifier(
                transport, publisher_id=conf.default_publisher_id)
            threading.Thread(target=self._send_forever, name='notifier',
                             daemon=True).start()
            atexit.register(self.flush, FLUSH_AT_EXIT)

    def wants(self, event_type: str) -> bool:
        """Whether ``event_type`` is sent at all: check before building a payload."""
        try:
            return self._wanted[event_type]
        except KeyError:
            wanted = self._wanted[event_type] = self.enabled and not disabled(
                event_type, self._disabled)
            return wanted

    def info(self, event_type: str, payload) -> None:
        self._put('info', event_type, payload)

    def error(self, event_type: str, payload) -> None:
        self._put('error', event_type, payload)

    def _put(self, priority: str, event_type: str, payload) -> None:
        if not self.wants(event_type):
            return
        try:
            self._queue.put_nowait((priority, event_type, payload))
        except queue.Full:
            self._dropped += 1
            if self._dropped % 1000 == 1:    # the first, then one line per thousand
                LOG.warning('Notification %s dropped (%d so far): %d notifications are '
                            'waiting for the message broker.', event_type,
                            self._dropped, self._queue.qsize())

    def _send_forever(self) -> None:
        while True:
            priority, event_type, payload = self._queue.get()
            try:
                getattr(self._notifier, priority)({}, event_type, payload)
            except Exception as e:      # the broker's failures are many; log them all
                LOG.error('Notification %s could not be sent: %s', event_type, e)
            finally:
                self._queue.task_done()

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the queued notifications to be sent."""
        deadline = time.monotonic() + timeout
        done = self._queue.all_tasks_done
        with done:
            while self._queue.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                done.wait(left)
        return True
