"""Property protections: who may create, read, update or delete which custom property.

``property_protection_file`` is an INI file whose sections are regular expressions over
property names, each with create/read/update/delete entries: roles (comma separated,
``@`` anyone, ``!`` no one) or, with ``property_protection_rule_format = policies``, one
policy rule name from policy.yaml. The first section whose expression matches a name
decides; a name no section matches may not be touched. os_glance_* stays Glance's own.
"""
from __future__ import annotations

import configparser
import logging
import re

from oslo_config import cfg

from glint.common import exception

LOG = logging.getLogger(__name__)
OPERATIONS = ('create', 'read', 'update', 'delete')

protection_opts = [
    cfg.StrOpt('property_protection_file',
               help='INI file of property protection rules; unset: no protection.'),
    cfg.StrOpt('property_protection_rule_format', default='roles',
               choices=('roles', 'policies'),
               help='Whether the rules name roles or policy.yaml rules.'),
]
cfg.CONF.register_opts(protection_opts)


def list_opts():
    return [('DEFAULT', protection_opts)]


class InvalidProtections(exception.GlintError):
    message = 'The property protection file is invalid.'


class PropertyProtection:
    def __init__(self, conf: cfg.ConfigOpts, enforcer):
        self.by_policy = conf.property_protection_rule_format == 'policies'
        self.enforcer = enforcer
        self.rules: list[tuple[re.Pattern, dict[str, list[str]]]] = [
            (re.compile('^os_glance'), {op: ['@'] for op in OPERATIONS})]
        self._load(conf.find_file(conf.property_protection_file)
                   or conf.property_protection_file)

    def _load(self, path: str) -> None:
        parser = configparser.RawConfigParser()
        try:
            if not parser.read(path):
                raise InvalidProtections('Property protection file %s not found.' % path)
        except configparser.Error as e:
            raise InvalidProtections('Property protection file %s: %s' % (path, e))
        for section in parser.sections():
            if section.startswith('os_glance'):
                continue            # reserved for Glance itself
            try:
                expression = re.compile(section)
            except re.error as e:
                raise InvalidProtections('Malformed property protection rule [%s]: %s'
                                         % (section, e))
            self.rules.append((expression, {
                op: self._permissions(parser, section, op) for op in OPERATIONS}))

    def _permissions(self, parser, section: str, op: str) -> list[str]:
        if not parser.has_option(section, op):
            raise InvalidProtections('[%s] has no %s entry.' % (section, op))
        value = parser.get(section, op).strip()
        if not value:
            LOG.warning('No one may %s properties matching [%s].', op, section)
            return []
        if self.by_policy:
            if ',' in value:
                raise InvalidProtections('[%s] %s names several policies; combine them '
                                         'in policy.yaml.' % (section, op))
            self.enforcer.add_rule('%s:%s' % (section, op), 'rule:' + value)
            return [value]
        names = [name.strip().lower() for name in value.split(',')]
        if '@' in names and '!' in names:
            raise InvalidProtections("[%s] %s: '@' and '!' exclude each other."
                                     % (section, op))
        return names

    def allowed(self, ctx, name: str, op: str) -> bool:
        rule = next(((e, p) for e, p in self.rules if e.search(name)), None)
        if rule is None:
            return False
        expression, allowed = rule[0], rule[1][op]
        if not allowed or '!' in allowed:
            return False
        if '@' in allowed:
            return True
        if self.by_policy:
            return self.enforcer.check(ctx, '%s:%s' % (expression.pattern, op), {})
        roles = {r.lower() for r in list(ctx.roles) + list(ctx.service_roles or [])}
        return bool(roles.intersection(allowed))

    def enforce(self, ctx, name: str, op: str) -> None:
        if not self.allowed(ctx, name, op):
            raise exception.Forbidden("Attribute '%s' is reserved." % name)

    def readable(self, ctx, properties: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in properties.items() if self.allowed(ctx, k, 'read')}
