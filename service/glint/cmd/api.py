"""glance-api: serve the API with gunicorn (gthread workers) as glance-api.conf says."""
from __future__ import annotations

import sys

from oslo_config import cfg

from glint.common import config, server


def main(argv: list[str] | None = None) -> None:
    config.parse_args(sys.argv[1:] if argv is None else argv)
    server.serve(cfg.CONF, 'glance-api')


if __name__ == '__main__':
    main()
