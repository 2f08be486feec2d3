"""Who sees an image: public, community, shared (members), private; in a show and in
a listing, as Glance decides it."""
from __future__ import annotations

import pytest

from glint.common import exception
from glint.db.api import ListQuery
from glint.domain.images import Change
from tests.unit.domain.conftest import ADMIN, OTHER, OWNER, caller


def listed(domain, ctx, **query) -> set[str]:
    return {i.id for i in domain.images.list(ctx, ListQuery(None, False, **query))}


@pytest.mark.parametrize('visibility, others_see', [
    ('public', True), ('community', True), ('shared', False), ('private', False)])
def test_show(domain, visibility, others_see):
    image = domain.image(visibility=visibility)
    for ctx in (OWNER, ADMIN):
        assert domain.images.get(ctx, image.id).id == image.id
    if others_see:
        assert domain.images.get(OTHER, image.id).id == image.id
    else:
        with pytest.raises(exception.NotFound):
            domain.images.get(OTHER, image.id)


def test_new_images_are_shared_by_default(domain):
    assert domain.image().visibility == 'shared'


def test_listing_leaves_community_images_to_their_owner_unless_asked(domain):
    public = domain.image(visibility='public').id
    community = domain.image(visibility='community').id
    private = domain.image(visibility='private').id
    assert listed(domain, OWNER) >= {public, community, private}
    assert listed(domain, OTHER) == {public}
    assert listed(domain, OTHER, visibility='community') == {community}
    assert listed(domain, ADMIN) == {public, private}    # admins see all but community
    assert listed(domain, ADMIN, visibility='all') == {public, community, private}


def test_a_member_sees_a_shared_image_and_lists_it_once_accepted(domain):
    image = domain.image(visibility='shared').id
    domain.members.add(OWNER, image, 'p2')
    assert domain.images.get(OTHER, image).member == 'p2'
    assert listed(domain, OTHER) == set()
    assert listed(domain, OTHER, member_status='pending') == {image}
    domain.members.update(OTHER, image, 'p2', 'accepted')
    assert listed(domain, OTHER) == {image}
    domain.members.update(OTHER, image, 'p2', 'rejected')
    assert listed(domain, OTHER) == set()
    assert domain.images.get(OTHER, image).id == image    # rejected: still reachable


def test_a_private_image_hides_its_members(domain):
    image = domain.image(visibility='shared').id
    domain.members.add(OWNER, image, 'p2')
    domain.images.update(OWNER, image, [Change('replace', 'visibility', 'private')])
    with pytest.raises(exception.NotFound):
        domain.images.get(OTHER, image)


def test_hidden_images_are_shown_but_not_listed_by_default(domain):
    image = domain.image(os_hidden=True).id
    assert domain.images.get(OWNER, image).os_hidden
    assert image not in listed(domain, OWNER)
    assert image in listed(domain, OWNER, os_hidden=True)


def test_a_caller_without_a_project_sees_only_public_and_community(domain):
    public = domain.image(visibility='public').id
    private = domain.image(visibility='private').id
    anonymous = caller(None, 'reader')
    assert domain.images.get(anonymous, public).id == public
    with pytest.raises(exception.NotFound):
        domain.images.get(anonymous, private)

