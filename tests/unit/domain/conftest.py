"""The domain controller on its own: the image services over the in-memory database,
the real file store in a temporary directory, oslo.policy with Glance's defaults and a
recording notifier. Callers are oslo.context contexts, as the API makes them."""
from __future__ import annotations

import dataclasses
import io
import textwrap

import pytest
from oslo_config import cfg
from oslo_context import context as oslo_context
from oslo_policy import opts as policy_opts

from glint.common import config
from glint.domain import protection
from glint.domain.data import ImageDataService
from glint.domain.gateway import Gateway
from glint.domain.images import ImageService
from glint.domain.members import MemberService
from glint.notifier import NoopNotifier
from glint.policy import Enforcer
from glint.store.backend import Stores
from tests.unit.domain.memory_db import MemoryDatabase


def caller(project: str | None, *roles: str) -> oslo_context.RequestContext:
    """A caller as keystonemiddleware and glint.api.app make it (admin: role admin)."""
    roles = roles or ('reader', 'member')
    return oslo_context.RequestContext(project_id=project, user_id='u-' + str(project),
                                       roles=list(roles), is_admin='admin' in roles)


ADMIN = caller('admin-project', 'admin', 'member', 'reader')
OWNER = caller('p1')
OTHER = caller('p2')
READER = caller('p1', 'reader')


class RecordingNotifier(NoopNotifier):
    """Every notification, in order: (priority, event type, payload)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict]] = []

    def wants(self, event_type: str) -> bool:
        return True

    def info(self, event_type: str, payload) -> None:
        self.sent.append(('info', event_type, payload))

    def error(self, event_type: str, payload) -> None:
        self.sent.append(('error', event_type, payload))

    def events(self) -> list[str]:
        return [event for _, event, _ in self.sent]


@dataclasses.dataclass
class Domain:
    """The three services over one gateway, and what the tests inspect."""
    conf: cfg.ConfigOpts
    db: MemoryDatabase
    notifier: RecordingNotifier
    images: ImageService
    data: ImageDataService
    members: MemberService

    def image(self, ctx=OWNER, data: bytes | None = None, **values):
        """A new image of ctx's project (active when data is given). An admin makes
        public ones: publicize_image is the admin's alone."""
        values.setdefault('disk_format', 'raw')
        values.setdefault('container_format', 'bare')
        if values.get('visibility') == 'public':
            values.setdefault('owner', ctx.project_id)
            ctx = ADMIN
        properties = values.pop('properties', {})
        image = self.images.create(ctx, values, properties, values.pop('tags', []))
        if data is not None:
            self.data.upload(ctx, image.id, io.BytesIO(data), len(data))
        return self.images.get(ctx, image.id)


@pytest.fixture
def conf() -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf.register_opts(config.api_opts)
    conf.register_opts(protection.protection_opts)
    conf([], default_config_files=[])
    return conf


def _stores(conf: cfg.ConfigOpts, directory) -> Stores:
    stores = Stores(conf)
    conf.set_override('filesystem_store_datadir', str(directory), group='glance_store')
    stores.configure()
    return stores


@pytest.fixture
def make_domain(conf, tmp_path):
    """A Domain; ``policy`` and ``protections`` (file texts) configure it first."""
    def make(policy: str | None = None, protections: str | None = None,
             rule_format: str = 'roles') -> Domain:
        enforcer = _enforcer(conf, tmp_path, policy)
        guard = None
        if protections is not None:
            path = tmp_path / 'property-protections.conf'
            path.write_text(textwrap.dedent(protections))
            conf.set_override('property_protection_file', str(path))
            conf.set_override('property_protection_rule_format', rule_format)
            guard = protection.PropertyProtection(conf, enforcer)
        db, notifier = MemoryDatabase(), RecordingNotifier()
        gateway = Gateway(conf, db, _stores(conf, tmp_path / 'images'), enforcer, guard,
                          notifier)
        return Domain(conf, db, notifier, ImageService(gateway), ImageDataService(gateway),
                      MemberService(gateway))
    return make


def _enforcer(conf: cfg.ConfigOpts, tmp_path, policy: str | None) -> Enforcer:
    """Glance's defaults, with ``policy`` (policy.yaml text) over them."""
    path = tmp_path / 'policy.yaml'
    path.write_text(textwrap.dedent(policy or '{}'))
    policy_opts.set_defaults(conf, policy_file=str(path))
    return Enforcer(conf)


@pytest.fixture
def domain(make_domain) -> Domain:
    return make_domain()
