"""Members: the owner shares and unshares, the member accepts or rejects, and each sees
only what Glance lets it see."""
from __future__ import annotations

import pytest

from glint.common import exception
from tests.unit.domain.conftest import ADMIN, OTHER, OWNER, caller

THIRD = caller('p3')


@pytest.fixture
def shared(domain) -> str:
    image = domain.image(visibility='shared').id
    domain.members.add(OWNER, image, 'p2')
    return image


def test_a_new_member_is_pending(domain, shared):
    member = domain.members.get(OWNER, shared, 'p2')
    assert (member.member, member.status) == ('p2', 'pending')
    assert domain.notifier.events()[-1] == 'image.member.create'


def test_only_the_member_accepts_or_rejects(domain, shared):
    with pytest.raises(exception.Forbidden):
        domain.members.update(OWNER, shared, 'p2', 'accepted')
    assert domain.members.update(OTHER, shared, 'p2', 'accepted').status == 'accepted'
    assert domain.members.update(OTHER, shared, 'p2', 'rejected').status == 'rejected'


def test_only_the_owner_shares_and_unshares(domain, shared):
    with pytest.raises(exception.Forbidden):
        domain.members.add(OTHER, shared, 'p3')
    with pytest.raises(exception.Forbidden):
        domain.members.delete(OTHER, shared, 'p2')
    domain.members.delete(OWNER, shared, 'p2')
    with pytest.raises(exception.NotFound):
        domain.images.get(OTHER, shared)
    assert domain.notifier.events()[-1] == 'image.member.delete'


def test_a_member_sees_only_its_own_membership(domain, shared):
    domain.members.add(OWNER, shared, 'p3')
    assert [m.member for m in domain.members.list(OWNER, shared)] == ['p2', 'p3']
    assert [m.member for m in domain.members.list(OTHER, shared)] == ['p2']
    with pytest.raises(exception.NotFound):
        domain.members.get(OTHER, shared, 'p3')
    assert [m.member for m in domain.members.list(ADMIN, shared)] == ['p2', 'p3']


def test_a_stranger_finds_nothing(domain, shared):
    for call in (lambda: domain.members.list(THIRD, shared),
                 lambda: domain.members.get(THIRD, shared, 'p2'),
                 lambda: domain.members.update(THIRD, shared, 'p2', 'accepted')):
        with pytest.raises(exception.NotFound):
            call()


def test_only_shared_images_have_members(domain):
    image = domain.image(visibility='private').id
    with pytest.raises(exception.Forbidden, match='Only shared images'):
        domain.members.add(OWNER, image, 'p2')
    with pytest.raises(exception.NotFound):       # a show hides the reason
        domain.members.get(OWNER, image, 'p2')


def test_a_project_is_a_member_once(domain, shared):
    with pytest.raises(exception.Conflict):
        domain.members.add(OWNER, shared, 'p2')
