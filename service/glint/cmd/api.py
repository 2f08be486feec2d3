"""glance-api: serve the API with gunicorn (gthread workers) as glance-api.conf says."""
from __future__ import annotations

import multiprocessing
import sys

from gunicorn.app.base import BaseApplication
from oslo_config import cfg

from glint.common import config

CONF = cfg.CONF


class Server(BaseApplication):
    """gunicorn, configured from oslo.config instead of its own command line."""

    def __init__(self, settings: dict, load):
        self.settings = settings
        self._load = load
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.settings.items():
            self.cfg.set(key, value)

    def load(self):
        return self._load()


def gunicorn_settings(conf: cfg.ConfigOpts) -> dict:
    return {
        'bind': '%s:%d' % (conf.bind_host, conf.bind_port),
        'workers': conf.workers or multiprocessing.cpu_count(),
        'worker_class': 'gthread',
        'threads': conf.worker_threads,
        'timeout': conf.client_socket_timeout or 900,
        'keepalive': 75,
        'backlog': conf.backlog,
        'accesslog': '-' if conf.debug else None,
        'proc_name': 'glance-api',
        'control_socket_disable': True,   # one shared path per user: no use to us
    }


def main(argv: list[str] | None = None) -> None:
    config.parse_args(sys.argv[1:] if argv is None else argv)
    from glint.api import app  # after parsing: the app reads the configuration
    Server(gunicorn_settings(CONF), app.load_app).run()


if __name__ == '__main__':
    main()
