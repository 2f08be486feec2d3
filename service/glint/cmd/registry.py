"""glance-registry: serve the image database over HTTP (port 9191) as
glance-registry.conf says, with the same gunicorn launcher as glance-api."""
from __future__ import annotations

import ipaddress
import socket
import sys

from oslo_config import cfg

from glint import checks
from glint.common import config, server
from glint.registry import app

CONF = cfg.CONF

registry_opts = [
    cfg.BoolOpt('allow_insecure_registry_bind', default=False,
                help='Let a registry without authentication ([paste_deploy] flavor '
                     'empty) listen on a bind_host that is not a loopback address. '
                     'Without auth anyone who reaches the port can read and change '
                     'every image, so only set this on a network you trust (Glint).'),
]
CONF.register_opts(registry_opts)


def list_opts():
    """Options for oslo-config-generator (glance-registry.conf)."""
    return [('DEFAULT', registry_opts)]


def is_loopback(host: str) -> bool:
    """Every address ``host`` resolves to is a loopback address."""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return all(ipaddress.ip_address(info[4][0].split('%')[0]).is_loopback
               for info in infos)


def refuse_open_bind(conf: cfg.ConfigOpts) -> str | None:
    """Why the registry must not start as configured, if it must not."""
    if (conf.paste_deploy.flavor or '').strip() or conf.allow_insecure_registry_bind:
        return None
    if is_loopback(conf.bind_host):
        return None
    return ('glance-registry: refusing to serve the image database without '
            'authentication on %s (not a loopback address). Set [paste_deploy] '
            'flavor = keystone, bind to 127.0.0.1, or set allow_insecure_registry_bind '
            '= true.' % conf.bind_host)


def main(argv: list[str] | None = None) -> None:
    # Glance's registry defaults; loopback because the default flavor has no auth.
    CONF.set_default('bind_port', 9191)
    CONF.set_default('bind_host', '127.0.0.1')
    CONF.register_cli_opts(checks.cli_opts)
    config.parse_args(sys.argv[1:] if argv is None else argv, prog=app.SERVICE)
    reason = refuse_open_bind(CONF)
    if reason:
        sys.exit(reason)
    checks.at_start(CONF, app.SERVICE)
    server.serve(CONF, app.SERVICE)


if __name__ == '__main__':
    main()
