"""What glance-api and glance-registry share as WSGI services: the paste pipeline that
``[paste_deploy]`` selects, and gunicorn (with Glint's worker, glint.common.worker)
configured from oslo.config instead of its own command line, so both read bind_host /
bind_port / workers alike.
"""
from __future__ import annotations

import multiprocessing
import os
import ssl
import threading
from collections.abc import Callable, Iterator

from gunicorn.app.base import BaseApplication
from oslo_config import cfg
from paste import deploy

from glint.common import worker

BUNDLED_ETC = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'etc')


def paste_file(conf: cfg.ConfigOpts, service: str) -> str:
    """[paste_deploy] config_file, else ``<service>-paste.ini`` beside the config files,
    else the one bundled with Glint."""
    if conf.paste_deploy.config_file:
        return os.path.abspath(conf.paste_deploy.config_file)
    name = service + '-paste.ini'
    return conf.find_file(name) or os.path.join(BUNDLED_ETC, name)


def load_paste(conf: cfg.ConfigOpts, service: str):
    """The pipeline ``<service>[-<flavor>]`` of the service's paste file."""
    flavor = (conf.paste_deploy.flavor or '').strip()
    pipeline = service + ('-' + flavor if flavor else '')
    return deploy.loadapp('config:' + paste_file(conf, service), name=pipeline)


class Server(BaseApplication):
    """gunicorn, configured from oslo.config instead of its own command line."""

    def __init__(self, settings: dict, load: Callable):
        self.settings = settings
        self._load = load
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.settings.items():
            self.cfg.set(key, value)

    def load(self):
        return self._load()


_serving = threading.local()      # the gunicorn request this thread is serving


def _remember_request(_worker, req) -> None:
    """gunicorn's pre_request hook: a worker thread serves a request from its head on."""
    _serving.request = req


def close_after_response() -> None:
    """Answer with ``Connection: close`` and close: for a request whose body was not
    read to its end (a refused upload). gunicorn skips at most 64 KiB of an unread
    body and otherwise drops the connection without saying so, which a client finds
    out only when its next request on it fails. Under another server: nothing."""
    request = getattr(_serving, 'request', None)
    if request is not None:
        request.must_close = True


def gunicorn_settings(conf: cfg.ConfigOpts, service: str) -> dict:
    host = '[%s]' % conf.bind_host if ':' in conf.bind_host else conf.bind_host
    return {
        'bind': '%s:%d' % (host, conf.bind_port),
        'workers': conf.workers or multiprocessing.cpu_count(),
        'worker_class': worker.GlintWorker.configured(
            header_timeout=conf.client_header_timeout,
            socket_timeout=conf.client_socket_timeout,
            grace=conf.graceful_shutdown_timeout),
        'threads': conf.worker_threads,
        # the master restarts a worker whose event loop stalls this long
        'timeout': max(conf.client_socket_timeout or 900, 30),
        'graceful_timeout': worker.arbiter_grace(conf.graceful_shutdown_timeout),
        'keepalive': 75,
        'backlog': conf.backlog,
        'accesslog': '-' if conf.debug else None,
        'proc_name': service,
        'control_socket_disable': True,   # one shared path per user: no use to us
        'pre_request': _remember_request,
        **tls_settings(conf),
    }


def tls_settings(conf: cfg.ConfigOpts) -> dict:
    """gunicorn's HTTPS settings from Glance's cert_file / key_file / ca_file."""
    if not conf.cert_file:
        return {}
    settings = {'certfile': conf.cert_file, 'keyfile': conf.key_file}
    if conf.ca_file:
        settings.update(ca_certs=conf.ca_file, cert_reqs=ssl.CERT_REQUIRED)
    return settings


def tls_problems(conf: cfg.ConfigOpts) -> Iterator[tuple[str, str]]:
    """(option, why) for TLS settings the service cannot serve with."""
    if bool(conf.cert_file) != bool(conf.key_file):
        yield ('key_file' if conf.cert_file else 'cert_file',
               'cert_file and key_file go together.')
        return
    if conf.ca_file and not conf.cert_file:
        yield 'ca_file', 'client certificates need HTTPS: set cert_file and key_file.'
    if not conf.cert_file:
        return
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(conf.cert_file, conf.key_file)
    except (OSError, ssl.SSLError) as e:
        yield 'cert_file', 'cannot serve HTTPS with it and key_file: %s' % e
    if conf.ca_file:
        try:
            context.load_verify_locations(conf.ca_file)
        except (OSError, ssl.SSLError) as e:
            yield 'ca_file', 'cannot read CA certificates from it: %s' % e


def serve(conf: cfg.ConfigOpts, service: str) -> None:
    """Run ``service`` (its paste pipeline) under gunicorn until told to stop."""
    Server(gunicorn_settings(conf, service), lambda: load_paste(conf, service)).run()
