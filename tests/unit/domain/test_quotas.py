"""image_property_quota, image_tag_quota, image_member_quota (per image, -1 unlimited)
and user_storage_quota (bytes per owner): 413 past them, nothing changed."""
from __future__ import annotations

import io

import pytest

from glint.common import exception
from glint.domain import limits
from glint.domain.images import Change
from tests.unit.domain.conftest import OTHER, OWNER

TOO_MANY = exception.RequestEntityTooLarge


@pytest.fixture
def quotas(conf):
    def set_quotas(**values):
        for name, value in values.items():
            conf.set_override(name, value)
    return set_quotas


def test_properties(domain, quotas):
    quotas(image_property_quota=2)
    with pytest.raises(TOO_MANY, match='Attempted: 3, Maximum: 2'):
        domain.image(properties={'a': '1', 'b': '2', 'c': '3'})
    image = domain.image(properties={'a': '1', 'b': '2'}).id
    with pytest.raises(TOO_MANY):
        domain.images.update(OWNER, image, [Change('add', 'c', '3')])
    # replacing one, or removing one and adding another, stays within the quota
    domain.images.update(OWNER, image, [Change('replace', 'a', 'x'),
                                        Change('remove', 'b'), Change('add', 'c', '3')])
    assert domain.images.get(OWNER, image).properties == {'a': 'x', 'c': '3'}


def test_glance_bookkeeping_properties_do_not_count():
    limits.check_properties({'a': '1', 'os_glance_importing_to_stores': ''}, 1)


def test_tags(domain, quotas):
    quotas(image_tag_quota=2)
    with pytest.raises(TOO_MANY):
        domain.image(tags=['a', 'b', 'c'])
    image = domain.image(tags=['a', 'b', 'a']).id     # duplicates count once
    with pytest.raises(TOO_MANY):
        domain.images.add_tag(OWNER, image, 'c')
    domain.images.add_tag(OWNER, image, 'a')          # already there: no change
    with pytest.raises(TOO_MANY):
        domain.images.update(OWNER, image, [Change('replace', 'tags', ['x', 'y', 'z'])])
    assert domain.images.get(OWNER, image).tags == ['a', 'b']


def test_members(domain, quotas):
    quotas(image_member_quota=1)
    image = domain.image().id
    domain.members.add(OWNER, image, 'p2')
    with pytest.raises(TOO_MANY):
        domain.members.add(OWNER, image, 'p3')


def test_minus_one_is_unlimited(domain, quotas):
    quotas(image_property_quota=-1, image_tag_quota=-1, image_member_quota=-1)
    image = domain.image(properties={str(n): '' for n in range(200)},
                         tags=[str(n) for n in range(200)]).id
    for n in range(200):
        domain.members.add(OWNER, image, 'p%d' % n)


def test_storage_quota_counts_the_owners_other_images(domain, quotas):
    quotas(user_storage_quota='10B')
    domain.image(data=b'123456')
    domain.image(ctx=OTHER, data=b'1234567890')      # another owner's: not counted
    image = domain.image().id
    with pytest.raises(TOO_MANY, match='4 bytes left of 10'):
        domain.data.upload(OWNER, image, io.BytesIO(b'12345'), 5)    # declared: early
    with pytest.raises(TOO_MANY):
        domain.data.upload(OWNER, image, io.BytesIO(b'12345'), None)  # streamed
    assert domain.images.get(OWNER, image).status == 'queued'
    domain.data.upload(OWNER, image, io.BytesIO(b'1234'), None)
    assert domain.images.usage(OWNER).storage_used == 10


def test_the_size_cap(domain, conf):
    conf.set_override('image_size_cap', 3)
    image = domain.image().id
    with pytest.raises(TOO_MANY, match='limit is 3 bytes'):
        domain.data.upload(OWNER, image, io.BytesIO(b'1234'), None)


@pytest.mark.parametrize('text, size', [('0', 0), ('10', 10), ('2KB', 2048),
                                        ('1 GB', 1 << 30), ('3tb', 3 << 40)])
def test_storage_quota_units(text, size):
    assert limits.parse_size(text) == size


def test_usage(domain, quotas):
    quotas(user_storage_quota='1MB')
    domain.image(data=b'x' * 10)
    domain.image()
    usage = domain.images.usage(OWNER)
    assert (usage.storage_quota, usage.storage_used, usage.image_count) == (1 << 20, 10, 2)
