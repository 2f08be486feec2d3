"""WSGI entry point for uWSGI, mod_wsgi or any WSGI server: glint.wsgi.api:application.

Reads /etc/glance/glance-api.conf (and glance-api.conf.d) the way oslo.config finds
them, or the files named in GLANCE_CONFIG_FILES (comma separated).
"""
import os

from glint.common import config


def _application():
    files = os.environ.get('GLANCE_CONFIG_FILES')
    config.parse_args([], default_config_files=files.split(',') if files else None)
    from glint.api import app
    return app.load_app()


application = _application()
