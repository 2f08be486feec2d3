"""Authorization: Glance's secure-RBAC defaults (reader / member / admin, project
scoped) and policy.yaml over them."""
from __future__ import annotations

import io

import pytest

from glint.common import exception
from glint.db.api import ListQuery
from glint.domain.images import Change
from tests.unit.domain.conftest import ADMIN, OTHER, OWNER, READER, caller


def test_a_reader_reads_but_changes_nothing(domain):
    image = domain.image(data=b'x').id
    assert domain.images.get(READER, image).id == image
    assert [i.id for i in domain.images.list(READER, ListQuery(None, False))] == [image]
    for call in (lambda: domain.images.update(READER, image, [Change('replace', 'name', 'n')]),
                 lambda: domain.images.delete(READER, image),
                 lambda: domain.images.add_tag(READER, image, 't'),
                 lambda: domain.images.set_status(READER, image, 'deactivate'),
                 lambda: domain.data.download(READER, image)):
        with pytest.raises(exception.Forbidden):
            call()
    with pytest.raises(exception.Forbidden):
        domain.image(ctx=READER)


def test_no_role_no_listing(domain):
    with pytest.raises(exception.Forbidden, match='get_images'):
        domain.images.list(caller('p1', 'guest'), ListQuery(None, False))


def test_only_an_admin_publicizes(domain):
    image = domain.image().id
    with pytest.raises(exception.Forbidden, match='publicize_image'):
        domain.images.update(OWNER, image, [Change('replace', 'visibility', 'public')])
    domain.images.update(ADMIN, image, [Change('replace', 'visibility', 'public')])
    domain.images.update(OWNER, image, [Change('replace', 'visibility', 'community')])


def test_images_for_another_project_are_the_admins_to_make(domain):
    with pytest.raises(exception.Forbidden, match="owned by 'p2'"):
        domain.image(owner='p2')
    assert domain.image(ctx=ADMIN, owner='p2').owner == 'p2'


def test_only_an_admin_changes_the_owner(domain):
    image = domain.image().id
    with pytest.raises(exception.Forbidden, match='non admin'):
        domain.images.update(OWNER, image, [Change('replace', 'owner', 'p2')])
    domain.images.update(ADMIN, image, [Change('replace', 'owner', 'p2')])
    assert domain.images.get(OTHER, image).owner == 'p2'


def test_others_download_a_public_image_but_do_not_change_it(domain):
    image = domain.image(visibility='public', data=b'x').id
    assert domain.data.download(OTHER, image)[1] is not None
    with pytest.raises(exception.Forbidden):
        domain.images.update(OTHER, image, [Change('replace', 'name', 'mine')])


def test_policy_yaml_overrides_a_default(make_domain):
    domain = make_domain(policy='''
        publicize_image: "role:member"
        download_image: "!"
    ''')
    image = domain.image(data=b'x').id
    domain.images.update(OWNER, image, [Change('replace', 'visibility', 'public')])
    for ctx in (OWNER, ADMIN):
        with pytest.raises(exception.Forbidden, match='download_image'):
            domain.data.download(ctx, image)


def test_a_failed_get_image_rule_hides_the_image(make_domain):
    domain = make_domain(policy='get_image: "role:admin"')
    image = domain.images.create(OWNER, {}, {}, []).id
    with pytest.raises(exception.NotFound):
        domain.images.get(OWNER, image)
    with pytest.raises(exception.NotFound):
        domain.data.upload(OWNER, image, io.BytesIO(b'x'), 1)
