"""The image database of a glance-registry: each ImageDatabase call is one ``POST /rpc``
(protocol in glint.registry.rpc). Selected in glance-api.conf with
``data_api = glint.db.registry.api`` (upstream's ``glance.db.registry.api`` works too).

Authentication: when ``[keystone_authtoken]`` names an auth plugin (``auth_type``, which
the keystone flavor of glance-api has anyway to validate tokens), every call carries a
token of the API's own service user, and a keystone-flavored registry lets it through if
that user holds the admin or service role (policy rule ``registry_api``). The end user's
token is never forwarded: the registry is a raw data layer that trusts the API, which
has already applied Glance's per-image policy. Without ``auth_type`` no token is sent
(a no-auth registry, on loopback).

One client, hence one pooled requests.Session, per API process (``connect`` is called
once when the application is built). Nothing is contacted at start-up: a registry that
is down or too slow makes calls fail with ServiceUnavailable (503 from the API) until it
is back, and then the API goes on by itself.
"""
from __future__ import annotations

import json
import logging
from typing import Any, cast

import requests
from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import loading
from keystoneauth1 import session as ks_session
from keystonemiddleware import auth_token
from oslo_config import cfg
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from glint.common import exception
from glint.db.api import ImageDatabase
from glint.registry import rpc

LOG = logging.getLogger(__name__)
AUTH_GROUP = 'keystone_authtoken'

registry_client_opts = [
    cfg.HostAddressOpt('registry_host', default='0.0.0.0',
                       help='Address of glance-registry; 0.0.0.0 (or ::) means this '
                            'host (127.0.0.1 or ::1).'),
    cfg.PortOpt('registry_port', default=9191, help='Port of glance-registry.'),
    cfg.StrOpt('registry_client_protocol', default='http', choices=('http', 'https'),
               help='Protocol used to talk to glance-registry.'),
    cfg.IntOpt('registry_client_timeout', default=600, min=0,
               help='Seconds to wait for glance-registry to answer a call; 0 means '
                    'no limit.'),
    cfg.StrOpt('registry_client_ca_file',
               help='CA bundle to verify the https certificate of glance-registry.'),
    cfg.StrOpt('registry_client_cert_file',
               help='Client certificate (PEM) presented to glance-registry over https.'),
    cfg.StrOpt('registry_client_key_file',
               help='Private key of registry_client_cert_file.'),
    cfg.BoolOpt('registry_client_insecure', default=False,
                help='Do not verify the https certificate of glance-registry.'),
]


def list_opts():
    """Options for oslo-config-generator (glance-api.conf)."""
    return [('DEFAULT', registry_client_opts)]


def registry_url(conf: cfg.ConfigOpts) -> str:
    host = {'0.0.0.0': '127.0.0.1', '::': '::1'}.get(conf.registry_host,
                                                      conf.registry_host)
    return '%s://%s:%d%s' % (conf.registry_client_protocol,
                             '[%s]' % host if ':' in host else host,
                             conf.registry_port, rpc.PATH)


class RegistryClient:
    """ImageDatabase over HTTP; its methods are made from the interface (below)."""

    def __init__(self, conf: cfg.ConfigOpts):
        self.url = registry_url(conf)
        self.timeout = conf.registry_client_timeout or None
        self.session = requests.Session()
        # Only refused connections are retried: a POST that may have reached the
        # registry is never sent twice.
        adapter = HTTPAdapter(pool_maxsize=max(conf.worker_threads, 10),
                              max_retries=Retry(total=1, connect=1, read=0, status=0,
                                                other=0, redirect=0))
        self.session.mount('http://', adapter)
        self.session.mount('https://', adapter)
        self.session.verify = (False if conf.registry_client_insecure
                               else conf.registry_client_ca_file or True)
        if conf.registry_client_cert_file:
            self.session.cert = (conf.registry_client_cert_file,
                                 conf.registry_client_key_file)
        self.auth, self.keystone = _service_auth(conf)

    def call(self, command: str, kwargs: dict[str, Any]) -> Any:
        body = json.dumps({'command': command, 'kwargs': rpc.encode(kwargs)})
        resp = self._post(body)
        if resp.status_code == 401 and self.auth:      # token revoked early: renew once
            self.auth.invalidate()
            resp = self._post(body)
        return self._result(resp)

    def _post(self, body: str) -> requests.Response:
        headers = {'Content-Type': 'application/json'}
        try:
            if self.auth:
                headers['X-Auth-Token'] = self.auth.get_token(self.keystone)
            return self.session.post(self.url, data=body, headers=headers,
                                     timeout=self.timeout)
        except (requests.RequestException, ks_exceptions.ConnectionError,
                ks_exceptions.DiscoveryFailure) as e:      # Keystone down counts too
            LOG.warning('glance-registry at %s is unavailable: %s', self.url, e)
            raise exception.ServiceUnavailable('The image registry is unavailable.')

    def _result(self, resp: requests.Response) -> Any:
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status_code == 200 and isinstance(body, dict) and 'result' in body:
            return rpc.decode(body['result'])
        if resp.status_code in (401, 403):
            # The API's own credentials: a deployment error, not the caller's.
            LOG.error('glance-registry at %s refused the API (%d): %s', self.url,
                      resp.status_code, resp.text[:200])
            raise exception.GlintError('The image registry refused this API server.')
        if isinstance(body, dict) and isinstance(body.get('error'), dict):
            raise rpc.error_from(body)
        if resp.status_code in (502, 503, 504):     # a proxy or auth_token in between
            raise exception.ServiceUnavailable('The image registry is unavailable.')
        LOG.error('glance-registry at %s answered %d: %s', self.url, resp.status_code,
                  resp.text[:200])
        raise exception.GlintError()


def _method(command: str):
    def method(self: RegistryClient, *args, **kwargs):
        return self.call(command, rpc.call_kwargs(command, args, kwargs))
    method.__name__ = command
    method.__doc__ = 'ImageDatabase.%s, answered by glance-registry.' % command
    method.__signature__ = rpc.SIGNATURES[command]   # for help() and inspect
    return method


for _command in rpc.COMMANDS:
    setattr(RegistryClient, _command, _method(_command))


def _service_auth(conf: cfg.ConfigOpts):
    """(auth plugin, keystone session) of the API's service user, or (None, None)
    when [keystone_authtoken] has no auth_type."""
    for group, opts in auth_token.list_opts():
        conf.register_opts(opts, group=group)
    plugin = loading.load_auth_from_conf_options(conf, AUTH_GROUP)
    if plugin is None:
        return None, None
    section = conf[AUTH_GROUP]
    verify = False if section.insecure else section.cafile or True
    cert = (section.certfile, section.keyfile) if section.certfile else None
    return plugin, ks_session.Session(auth=plugin, verify=verify, cert=cert,
                                      timeout=section.http_connect_timeout)


def connect(conf: cfg.ConfigOpts) -> ImageDatabase:
    conf.register_opts(registry_client_opts)
    return cast(ImageDatabase, RegistryClient(conf))
