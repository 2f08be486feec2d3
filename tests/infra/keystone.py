"""The real Keystone that the Glint tests authenticate against.

Importable from pytest fixtures (constants, get_token, ensure_running), and a
small command line that keystone.sh runs with the Keystone venv's Python:

    python keystone.py fixtures CLOUDS_YAML   # projects, users, roles; clouds.yaml

Needs only `requests` (plus PyYAML for `fixtures`).
"""

import os
import subprocess
import sys
from pathlib import Path

import requests

KEYSTONE_PORT = int(os.environ.get('KEYSTONE_PORT', '5000'))
KEYSTONE_URL = os.environ.get('KEYSTONE_URL', f'http://127.0.0.1:{KEYSTONE_PORT}/v3')
REGION = 'RegionOne'
DOMAIN = 'Default'

# Created by `keystone-manage bootstrap` (keystone.sh).
ADMIN_USER = 'admin'
ADMIN_PASSWORD = os.environ.get('KEYSTONE_ADMIN_PASSWORD', 'admin-pass')
ADMIN_PROJECT = 'admin'

# Glint's own service user, as Glance's would be.
SERVICE_USER = 'glance'
SERVICE_PASSWORD = 'glance-pass'
SERVICE_PROJECT = 'service'
SERVICE_ROLES = ('admin', 'service')

# Tenants: each project P has users P-reader, P-member and P-admin, each with
# the one role of its name; implied roles give admin => member => reader.
PROJECTS = ('alpha', 'beta')
ROLES = ('reader', 'member', 'admin')
USER_PASSWORD = 'pass'
USERS = {  # name -> (password, project, role)
    f'{project}-{role}': (USER_PASSWORD, project, role) for project in PROJECTS for role in ROLES
}

# Users whose roles are on the Default domain or on the system, not on a project: their
# tokens are domain- or system-scoped, which Glance's image APIs refuse (scope_types).
SCOPED_USERS = {  # name -> (password, scope, role)
    'domain-member': (USER_PASSWORD, 'domain', 'member'),
    'domain-admin': (USER_PASSWORD, 'domain', 'admin'),
    'system-reader': (USER_PASSWORD, 'system', 'reader'),
    'system-admin': (USER_PASSWORD, 'system', 'admin'),
}

INFRA_DIR = Path(__file__).resolve().parent
# keystone.sh's state dir: $GLINT_STATE, else .state at the repository's root
# (keystone.sh alone defaults to ./.state; ensure_running passes this one).
STATE_DIR = Path(os.environ.get('GLINT_STATE', INFRA_DIR.parents[1] / '.state')).resolve()
CLOUDS_YAML = STATE_DIR / 'keystone' / 'clouds.yaml'


def authenticate(user, password, project, domain=DOMAIN, scope=None):
    """Password-authenticate, scoped to project (or to the given scope, a Keystone
    ``scope`` object): (token, token body)."""
    scope = scope or {'project': {'name': project, 'domain': {'name': domain}}}
    identity = {
        'methods': ['password'],
        'password': {'user': {'name': user, 'domain': {'name': domain}, 'password': password}},
    }
    response = requests.post(
        f'{KEYSTONE_URL}/auth/tokens',
        json={'auth': {'identity': identity, 'scope': scope}},
        timeout=30,
    )
    _check(response)
    return response.headers['X-Subject-Token'], response.json()['token']


def get_token(user, password, project, domain=DOMAIN):
    """A project-scoped token for user: (token, project_id)."""
    token, body = authenticate(user, password, project, domain)
    return token, body['project']['id']


def get_scoped_token(user):
    """A domain- or system-scoped token for one of SCOPED_USERS."""
    password, scope, _ = SCOPED_USERS[user]
    scope = {'domain': {'name': DOMAIN}} if scope == 'domain' else {'system': {'all': True}}
    return authenticate(user, password, None, scope=scope)[0]


def authtoken_options():
    """[keystone_authtoken] of a Glint service (glance-api or glance-registry) that
    validates tokens with this Keystone and authenticates as the glance service user."""
    root = KEYSTONE_URL.rsplit('/v3', 1)[0]
    return {
        'www_authenticate_uri': root, 'auth_url': root, 'auth_type': 'password',
        'username': SERVICE_USER, 'password': SERVICE_PASSWORD,
        'project_name': SERVICE_PROJECT, 'user_domain_name': DOMAIN,
        'project_domain_name': DOMAIN, 'region_name': REGION,
    }


def ensure_running():
    """Start Keystone (and its fixtures) unless running; raise if that fails."""
    done = subprocess.run(
        ['bash', str(INFRA_DIR / 'keystone.sh'), 'start'],
        env={**os.environ, 'GLINT_STATE': str(STATE_DIR), 'KEYSTONE_PORT': str(KEYSTONE_PORT)},
        capture_output=True,
        text=True,
    )
    if done.returncode:
        # On a failed start keystone.sh prints the tail of Keystone's log.
        raise RuntimeError(
            f'keystone.sh start failed (exit {done.returncode}):\n{done.stdout}{done.stderr}'
        )


def _check(response):
    if not response.ok:
        raise RuntimeError(
            f'{response.request.method} {response.url}: {response.status_code} {response.text}'
        )


class _Admin:
    """Just enough of the identity API, as the cloud admin, to create fixtures."""

    def __init__(self):
        token, _ = authenticate(ADMIN_USER, ADMIN_PASSWORD, ADMIN_PROJECT)
        self.session = requests.Session()
        self.session.headers['X-Auth-Token'] = token

    def call(self, method, path, **kwargs):
        response = self.session.request(method, f'{KEYSTONE_URL}{path}', timeout=30, **kwargs)
        _check(response)
        return response.json() if response.content else None

    def ensure(self, collection, name, **attributes):
        """Id of the project/user/role called name, created if missing."""
        query = {'name': name, **({'domain_id': 'default'} if collection != 'roles' else {})}
        found = self.call('GET', f'/{collection}', params=query)[collection]
        if found:
            return found[0]['id']
        member = collection[:-1]
        created = self.call('POST', f'/{collection}', json={member: {'name': name, **attributes}})
        return created[member]['id']

    def check_implied_roles(self):
        """Raise unless admin => member => reader (Keystone's bootstrap sets this up)."""
        implies = {}
        for inference in self.call('GET', '/role_inferences')['role_inferences']:
            implies[inference['prior_role']['name']] = {r['name'] for r in inference['implies']}

        def closure(role):
            direct = implies.get(role, set())
            return direct.union(*(closure(r) for r in direct))

        for prior, expected in (('admin', {'member', 'reader'}), ('member', {'reader'})):
            implied = closure(prior)
            if not expected <= implied:
                raise RuntimeError(f'role {prior} implies {implied or "nothing"}, not {expected}')


def create_fixtures(clouds_yaml):
    """Idempotently create the projects, users and roles above; write clouds.yaml."""
    import yaml

    accounts = {  # clouds.yaml entry -> (user, password, project, roles to grant)
        'glint-admin': (ADMIN_USER, ADMIN_PASSWORD, ADMIN_PROJECT, ()),  # bootstrap's own
        SERVICE_USER: (SERVICE_USER, SERVICE_PASSWORD, SERVICE_PROJECT, SERVICE_ROLES),
    }
    for user, (password, project, role) in USERS.items():
        accounts[user] = (user, password, project, (role,))

    admin = _Admin()
    roles = {name: admin.ensure('roles', name) for name in (*ROLES, *SERVICE_ROLES)}
    admin.check_implied_roles()
    for user, password, project, granted in accounts.values():
        if not granted:
            continue
        project_id = admin.ensure('projects', project, domain_id='default')
        user_id = admin.ensure(
            'users', user, domain_id='default', password=password, default_project_id=project_id
        )
        for role in granted:
            admin.call('PUT', f'/projects/{project_id}/users/{user_id}/roles/{roles[role]}')
    for user, (password, scope, role) in SCOPED_USERS.items():
        user_id = admin.ensure('users', user, domain_id='default', password=password)
        target = 'domains/default' if scope == 'domain' else 'system'
        admin.call('PUT', f'/{target}/users/{user_id}/roles/{roles[role]}')

    clouds = {
        name: {
            'auth': {
                'auth_url': KEYSTONE_URL,
                'username': user,
                'password': password,
                'project_name': project,
                'user_domain_name': DOMAIN,
                'project_domain_name': DOMAIN,
            },
            'region_name': REGION,
            'identity_api_version': 3,
            'interface': 'public',
        }
        for name, (user, password, project, _) in accounts.items()
    }
    Path(clouds_yaml).write_text(yaml.safe_dump({'clouds': clouds}, sort_keys=False))


if __name__ == '__main__':
    if sys.argv[1:2] == ['fixtures'] and len(sys.argv) == 3:
        create_fixtures(sys.argv[2])
    else:
        sys.exit(f'usage: {sys.argv[0]} fixtures CLOUDS_YAML')
