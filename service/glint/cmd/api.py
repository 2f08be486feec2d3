"""glance-api: serve the API with gunicorn (glint.common.worker) as glance-api.conf says."""
from __future__ import annotations

import sys

from oslo_config import cfg

from glint import checks
from glint.common import config, server


def main(argv: list[str] | None = None) -> None:
    cfg.CONF.register_cli_opts(checks.cli_opts)
    config.parse_args(sys.argv[1:] if argv is None else argv)
    checks.at_start(cfg.CONF, 'glance-api')
    server.serve(cfg.CONF, 'glance-api')


if __name__ == '__main__':
    main()
