"""Authorization rules, with Glance's names and secure-RBAC defaults.

Targets use Glance's keys: ``project_id`` is the image owner, ``member_id`` the caller's
project when it is a member of the image, ``owner`` the owner a new image would get.
Operators override any rule in policy.yaml ([oslo_policy] policy_file). As in Glance,
every image rule is for project-scoped tokens only: a domain- or system-scoped token,
which names no project to own or share images, is refused whatever its roles.
"""
from __future__ import annotations

import time

from oslo_config import cfg
from oslo_policy import policy

from glint.common import exception

ADMIN = 'rule:context_is_admin'
PROJECT_MEMBER = 'role:member and project_id:%(project_id)s'
PROJECT_READER = 'role:reader and project_id:%(project_id)s'
ADMIN_OR_MEMBER = f'{ADMIN} or ({PROJECT_MEMBER})'
ADMIN_OR_READER = f'{ADMIN} or ({PROJECT_READER})'
_REACHABLE = ("project_id:%(project_id)s or project_id:%(member_id)s or "
              "'community':%(visibility)s or 'public':%(visibility)s or "
              "'shared':%(visibility)s")
GET_IMAGE = f'{ADMIN} or (role:reader and ({_REACHABLE}))'
DOWNLOAD_IMAGE = f'{ADMIN} or (role:member and ({_REACHABLE}))'
CREATE_IMAGE = f'{ADMIN} or ({PROJECT_MEMBER} and project_id:%(owner)s)'
READER_OR_SHARED_MEMBER = (f'{ADMIN} or role:reader and '
                           f'(project_id:%(project_id)s or project_id:%(member_id)s)')
SHARED_MEMBER = f'{ADMIN} or (role:member and project_id:%(member_id)s)'

_RULES = {
    'context_is_admin': ('role:admin', 'The caller is an administrator.'),
    'default': ('', 'Rule used when no other applies.'),
    'service_api': ('role:service or role:admin', 'Calls made by other services.'),
    'registry_api': ('role:admin or role:service',
                     'Any call to glance-registry (a raw database: no per-image checks).'),
    'add_image': (CREATE_IMAGE, 'Create an image.'),
    'get_image': (GET_IMAGE, 'Show an image.'),
    'get_images': (ADMIN_OR_READER, 'List images.'),
    'modify_image': (ADMIN_OR_MEMBER, 'Update an image.'),
    'publicize_image': (ADMIN, 'Make an image public.'),
    'communitize_image': (ADMIN_OR_MEMBER, 'Make an image community.'),
    'delete_image': (ADMIN_OR_MEMBER, 'Delete an image.'),
    'download_image': (DOWNLOAD_IMAGE, 'Download image data.'),
    'upload_image': (ADMIN_OR_MEMBER, 'Upload image data.'),
    'get_image_location': (ADMIN_OR_READER, 'Show image locations.'),
    'set_image_location': (ADMIN_OR_MEMBER, 'Change image locations.'),
    'delete_image_location': (ADMIN, 'Remove image locations.'),
    'stores_info_detail': (ADMIN, 'Show the backends\' types and settings.'),
    'deactivate': (ADMIN_OR_MEMBER, 'Deactivate an image.'),
    'reactivate': (ADMIN_OR_MEMBER, 'Reactivate an image.'),
    'add_member': (ADMIN_OR_MEMBER, 'Share an image with a project.'),
    'delete_member': (ADMIN_OR_MEMBER, 'Stop sharing an image with a project.'),
    'get_member': (READER_OR_SHARED_MEMBER, 'Show one member of an image.'),
    'get_members': (READER_OR_SHARED_MEMBER, 'List the members of an image.'),
    'modify_member': (SHARED_MEMBER, 'Accept or reject a shared image.'),
}


_UNSCOPED = ('context_is_admin', 'default', 'service_api', 'registry_api')


def list_rules() -> list[policy.RuleDefault]:
    return [policy.RuleDefault(name, check, description=doc,
                               scope_types=None if name in _UNSCOPED else ['project'])
            for name, (check, doc) in _RULES.items()]


RELOAD_INTERVAL = 1.0     # seconds between looks for changed policy files


class _Enforcer(policy.Enforcer):
    """oslo.policy looks for the policy file and every policy.d directory on each check
    (a search of the config dirs and stat calls, a sixth of a show); this looks at most
    once a second, so an edited policy.yaml still applies without a restart."""

    _next_look = 0.0

    def load_rules(self, force_reload: bool = False) -> None:
        now = time.monotonic()
        if force_reload or now >= self._next_look:
            super().load_rules(force_reload)
            self._next_look = now + RELOAD_INTERVAL


class Enforcer:
    """oslo.policy with Glance's rules; raises Forbidden when a rule fails."""

    def __init__(self, conf: cfg.ConfigOpts):
        self._enforcer = _Enforcer(conf, use_conf=True)
        self._enforcer.register_defaults(list_rules())

    def add_rule(self, name: str, check: str) -> None:
        """A rule made at start-up (property protections in the policies format)."""
        self._enforcer.register_default(policy.RuleDefault(name, check))
        self._enforcer._next_look = 0.0      # apply it at the next check

    def check(self, context, rule: str, target: dict) -> bool:
        # oslo.policy compares a rule's "%(owner)s" with the caller's value as strings:
        # a missing owner would match a caller with no project ("None" == "None").
        target = {key: '' if value is None else value for key, value in target.items()}
        return self._enforcer.enforce(rule, target, context)

    def enforce(self, context, rule: str, target: dict) -> None:
        if not self.check(context, rule, target):
            raise exception.Forbidden('You are not authorized to complete %s action.'
                                      % rule)
