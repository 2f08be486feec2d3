"""Property protections (property_protection_file) in both formats: roles, and
policies named in policy.yaml."""
from __future__ import annotations

import pytest

from glint.common import exception
from glint.domain.images import Change
from glint.domain.protection import InvalidProtections
from tests.unit.domain.conftest import ADMIN, OWNER, READER

ROLES = '''
    [^x_admin_.*]
    create = admin
    read = admin,member
    update = admin
    delete = admin

    [^x_frozen$]
    create = @
    read = @
    update = !
    delete = !

    [.*]
    create = @
    read = @
    update = @
    delete = @
'''

POLICIES = '''
    [^x_admin_.*]
    create = glint_admin_only
    read = glint_member
    update = glint_admin_only
    delete = glint_admin_only

    [.*]
    create = glint_anyone
    read = glint_anyone
    update = glint_anyone
    delete = glint_anyone
'''

POLICY_RULES = '''
    glint_admin_only: "role:admin"
    glint_member: "role:member"
    glint_anyone: ""
'''


@pytest.fixture(params=['roles', 'policies'])
def domain(request, make_domain):
    if request.param == 'roles':
        return make_domain(protections=ROLES)
    return make_domain(policy=POLICY_RULES, protections=POLICIES, rule_format='policies')


def test_create_update_delete_by_role(domain):
    with pytest.raises(exception.Forbidden, match="'x_admin_k' is reserved"):
        domain.image(properties={'x_admin_k': 'v'})
    image = domain.image(ctx=ADMIN, owner='p1', properties={'x_admin_k': 'v'}).id
    for change in (Change('replace', 'x_admin_k', 'w'), Change('remove', 'x_admin_k')):
        with pytest.raises(exception.Forbidden):
            domain.images.update(OWNER, image, [change])
    domain.images.update(ADMIN, image, [Change('replace', 'x_admin_k', 'w')])
    domain.images.update(OWNER, image, [Change('add', 'free', '1')])


def test_unreadable_properties_are_hidden(domain):
    image = domain.image(ctx=ADMIN, owner='p1', properties={'x_admin_k': 'v', 'a': '1'})
    assert domain.images.get(OWNER, image.id).properties == {'x_admin_k': 'v', 'a': '1'}
    assert domain.images.get(READER, image.id).properties == {'a': '1'}


def test_no_one_and_anyone(make_domain):
    domain = make_domain(protections=ROLES)
    image = domain.image(properties={'x_frozen': 'v'}).id
    for ctx in (OWNER, ADMIN):
        with pytest.raises(exception.Forbidden):
            domain.images.update(ctx, image, [Change('replace', 'x_frozen', 'w')])


def test_a_property_no_section_matches_is_untouchable(make_domain):
    domain = make_domain(protections='''
        [^only_this$]
        create = @
        read = @
        update = @
        delete = @
    ''')
    domain.image(properties={'only_this': '1'})
    with pytest.raises(exception.Forbidden):
        domain.image(properties={'other': '1'})


@pytest.mark.parametrize('text, error', [
    ('[x]\ncreate = @\n', 'has no read entry'),
    ('[(]\ncreate = @\nread = @\nupdate = @\ndelete = @\n', 'Malformed'),
    ('[x]\ncreate = @,!\nread = @\nupdate = @\ndelete = @\n', 'exclude each other'),
])
def test_invalid_files_are_refused(make_domain, text, error):
    with pytest.raises(InvalidProtections, match=error):
        make_domain(protections=text)
