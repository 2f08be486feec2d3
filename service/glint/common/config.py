"""Options of glance-api.conf that Glint reads, spelled as Glance spells them.

Options registered by libraries (keystonemiddleware, oslo.messaging, oslo.policy,
oslo.middleware) live with those libraries; everything else an upstream glance-api.conf
may carry is accepted and noted once at start-up (``unused_options``, glint.checks).
"""
from __future__ import annotations

import configparser
import os

from oslo_config import cfg
from oslo_log import log as logging

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

server_opts = [
    cfg.HostAddressOpt('bind_host', default='0.0.0.0',
                       help='Address the API server listens on.'),
    cfg.PortOpt('bind_port', default=9292, help='Port the API server listens on.'),
    cfg.IntOpt('workers', min=0,
               help='Number of worker processes; unset or 0 means one per CPU.'),
    cfg.IntOpt('client_socket_timeout', default=900, min=0,
               help='Seconds a read or write of a client connection may wait (a '
                    'request body that stops arriving, a download nobody reads); '
                    '0 means wait forever.'),
    cfg.IntOpt('client_header_timeout', default=20, min=1,
               help='Seconds a new or kept-alive connection has to send a whole '
                    'request head once it starts waiting for one; then it is closed '
                    '(Glint).'),
    cfg.IntOpt('graceful_shutdown_timeout', default=60, min=0,
               help='On SIGTERM, seconds requests in flight may still take; those '
                    'still running then are cut (an upload fails, a download ends '
                    'short). 0 means wait for all of them.'),
    cfg.IntOpt('backlog', default=4096, min=1, help='Listen backlog.'),
    cfg.StrOpt('cert_file',
               help='Certificate (PEM) to serve HTTPS with; needs key_file.'),
    cfg.StrOpt('key_file', help='Private key (PEM) of cert_file.'),
    cfg.StrOpt('ca_file',
               help='CA certificates (PEM) that client certificates must be signed '
                    'by; set, every client must present one.'),
    cfg.IntOpt('worker_threads', default=16, min=1,
               help='Requests one API worker process serves at once (Glint).'),
]

api_opts = [
    cfg.IntOpt('limit_param_default', default=25, min=1,
               help='Page size of a listing when the request gives no limit.'),
    cfg.IntOpt('api_limit_max', default=1000, min=1,
               help='Largest page size a listing returns.'),
    cfg.IntOpt('image_size_cap', default=1099511627776, min=1,
               help='Largest image, in bytes, that may be uploaded.'),
    cfg.StrOpt('user_storage_quota', default='0',
               help='Total image data one project may store: bytes or a number '
                    'with B, KB, MB, GB or TB; 0 means unlimited.'),
    cfg.StrOpt('hashing_algorithm', default='sha512',
               help='hashlib algorithm for os_hash_value.'),
    cfg.BoolOpt('show_image_direct_url', default=False,
                help='Show the store location as direct_url.'),
    cfg.BoolOpt('show_multiple_locations', default=False,
                help='Show the locations list of images.'),
    cfg.ListOpt('enabled_import_methods',
                default=['glance-direct', 'web-download', 'copy-image'],
                help='Import methods advertised by /v2/info/import.'),
    cfg.StrOpt('data_api', default='glint.db.sqlalchemy.api',
               help='Python module of the database API.'),
    cfg.StrOpt('public_endpoint', help='Public URL used in version documents.'),
    cfg.IntOpt('image_member_quota', default=128, help='Members per image; -1 unlimited.'),
    cfg.IntOpt('image_property_quota', default=128,
               help='Custom properties per image; -1 unlimited.'),
    cfg.IntOpt('image_tag_quota', default=128, help='Tags per image; -1 unlimited.'),
    cfg.IntOpt('upload_lease_time', default=300, min=2,
               help='Seconds an upload holds its image in saving without data '
                    'arriving (Glint). The uploading worker renews the lease while data '
                    'flows; once it has expired (worker killed, host down, client '
                    'silent) any API worker returns the image to queued and removes '
                    'the partial data. Every API host sharing the database must use '
                    'the same value and keep its clock in sync (NTP).'),
]

image_format_opts = [
    cfg.ListOpt('container_formats',
                default=['ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker',
                         'compressed'],
                help='Container formats images may have.'),
    cfg.ListOpt('disk_formats',
                default=['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw',
                         'qcow2', 'vdi', 'iso', 'ploop'],
                help='Disk formats images may have.'),
]

paste_deploy_opts = [
    cfg.StrOpt('flavor', help='Pipeline suffix in the paste file: "" or "keystone".'),
    cfg.StrOpt('config_file', help='Paste configuration file.'),
]

database_opts = [
    cfg.StrOpt('connection', secret=True,
               deprecated_opts=[cfg.DeprecatedOpt('sql_connection', group='DEFAULT'),
                                cfg.DeprecatedOpt('sql_connection', group='database')],
               help='SQLAlchemy URL of the image database.'),
    cfg.IntOpt('max_pool_size', default=5, help='Connections kept per process.'),
    cfg.IntOpt('max_overflow', default=50, help='Extra connections allowed.'),
    cfg.IntOpt('pool_timeout', default=30, help='Seconds to wait for a connection.'),
    cfg.IntOpt('connection_recycle_time', default=3600,
               help='Seconds after which a pooled connection is renewed.'),
]

CONF.register_opts(server_opts)
CONF.register_opts(api_opts)
CONF.register_opts(image_format_opts, group='image_format')
CONF.register_opts(paste_deploy_opts, group='paste_deploy')
CONF.register_opts(database_opts, group='database')

# Sections whose options the libraries register when they are used.
LIBRARY_SECTIONS = frozenset({
    'keystone_authtoken', 'oslo_messaging_rabbit', 'oslo_messaging_notifications',
    'oslo_messaging_amqp', 'oslo_messaging_kafka', 'oslo_policy', 'oslo_middleware',
    'cors', 'healthcheck', 'os_brick', 'oslo_concurrency',
    'oslo_reports', 'oslo_limit', 'profiler', 'audit_middleware_notifications',
})


def list_opts():
    """Options for oslo-config-generator."""
    return [
        ('DEFAULT', server_opts + api_opts),
        ('image_format', image_format_opts),
        ('paste_deploy', paste_deploy_opts),
        ('database', database_opts),
    ]


def parse_args(argv: list[str] | None = None, default_config_files=None,
               prog: str = 'glance-api') -> None:
    logging.register_options(CONF)
    CONF(argv, project='glance', prog=prog, default_config_files=default_config_files)
    logging.setup(CONF, 'glance')


def config_files(conf: cfg.ConfigOpts = CONF) -> list[str]:
    """The files ``conf`` was read from, those of its config dir included."""
    files = list(conf.config_file or [])
    # --config-dir gives one directory; without it oslo.config's defaults are a list
    # (/etc/glance/glance-api.conf.d, ...) whose members may not exist.
    dirs = conf.config_dir or []
    for directory in [dirs] if isinstance(dirs, str) else dirs:
        if os.path.isdir(directory):
            files += sorted(os.path.join(directory, f) for f in os.listdir(directory)
                            if f.endswith('.conf'))
    return files


def _known(section: str, option: str) -> bool:
    group = None if section == 'DEFAULT' else section
    try:
        CONF.get_location(option, group)   # raises for an unregistered option
        return True
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
        return False


def unused_options(conf: cfg.ConfigOpts = CONF,
                   translated: frozenset = frozenset()) -> list[tuple[str, str]]:
    """(section, option) of the config files that Glint does not use, but those in
    ``translated`` (read under another name). Ask once every option is registered."""
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read(config_files(conf))
    except configparser.Error:
        return []    # oslo.config already parsed these files; its verdict stands
    unused = []
    for section in ['DEFAULT'] + parser.sections():
        if section in LIBRARY_SECTIONS or section.startswith('os_glance'):
            continue
        items = parser.defaults() if section == 'DEFAULT' else {
            k: v for k, v in parser.items(section) if k not in parser.defaults()}
        unused += [(section, option) for option in items
                   if (section, option) not in translated and not _known(section, option)]
    return unused
