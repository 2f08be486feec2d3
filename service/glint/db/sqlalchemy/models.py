"""Tables of the image database (typed SQLAlchemy 2 models).

Images are soft-deleted (``deleted``/``deleted_at``) as in Glance, so a deleted image's id
can never be reused and ``glance-manage db purge`` can remove old rows later. Their
properties, tags, members and locations go with them when the image row is purged.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Microsecond timestamps everywhere: keyset pagination orders by created_at.
Timestamp = DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql', 'mariadb')
ImageId = String(36)
# The longest image property value, in characters: 64 Ki, more than Glance's column
# holds on MySQL (TEXT, 65535 bytes); a longer one is the client's mistake (400).
PROPERTY_VALUE_MAX = 65536
# Listing filters compare this many leading characters of a value to use the
# (name, prefix) index, whose entries must stay within a btree row (migration 0002).
PROPERTY_VALUE_PREFIX = 255


class Base(DeclarativeBase):
    pass


class Image(Base):
    __tablename__ = 'images'
    __table_args__ = (
        Index('ix_images_deleted_created_at', 'deleted', 'created_at', 'id'),
        Index('ix_images_owner', 'owner'),
        Index('ix_images_visibility', 'visibility'),
        Index('ix_images_name', 'name'),
        Index('ix_images_status', 'status'),
        Index('ix_images_checksum', 'checksum'),
        Index('ix_images_os_hash_value', 'os_hash_value'),
        Index('ix_images_deleted_at', 'deleted_at'),
    )

    id: Mapped[str] = mapped_column(ImageId, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(30))
    visibility: Mapped[str] = mapped_column(String(9))
    owner: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int | None] = mapped_column(BigInteger)
    virtual_size: Mapped[int | None] = mapped_column(BigInteger)
    disk_format: Mapped[str | None] = mapped_column(String(20))
    container_format: Mapped[str | None] = mapped_column(String(20))
    checksum: Mapped[str | None] = mapped_column(String(32))
    os_hash_algo: Mapped[str | None] = mapped_column(String(64))
    os_hash_value: Mapped[str | None] = mapped_column(String(128))
    min_disk: Mapped[int] = mapped_column(Integer, default=0)
    min_ram: Mapped[int] = mapped_column(Integer, default=0)
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    os_hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp)
    updated_at: Mapped[dt.datetime] = mapped_column(Timestamp)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    # The upload under way, a lease (migration 0003): its uploader's token and expiry.
    upload_lease: Mapped[str | None] = mapped_column(String(36))
    upload_expires_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)


class _ImageChild:
    """Rows that belong to one image and are purged with it."""
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    image_id: Mapped[str] = mapped_column(
        ImageId, ForeignKey('images.id', ondelete='CASCADE'), index=True)


class ImageProperty(_ImageChild, Base):
    __tablename__ = 'image_properties'
    # ix_image_properties_name_value is on (name, a prefix of value), spelled per
    # database by migration 0002.
    __table_args__ = (UniqueConstraint('image_id', 'name'),)
    name: Mapped[str] = mapped_column(String(255))
    value: Mapped[str | None] = mapped_column(
        Text().with_variant(mysql.MEDIUMTEXT(), 'mysql', 'mariadb'))


class ImageTag(_ImageChild, Base):
    __tablename__ = 'image_tags'
    __table_args__ = (UniqueConstraint('image_id', 'value'),
                      Index('ix_image_tags_value', 'value'))
    value: Mapped[str] = mapped_column(String(255))


class ImageMember(_ImageChild, Base):
    __tablename__ = 'image_members'
    __table_args__ = (UniqueConstraint('image_id', 'member'),
                      Index('ix_image_members_member_status', 'member', 'status'))
    member: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(20), default='pending')
    can_share: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp)
    updated_at: Mapped[dt.datetime] = mapped_column(Timestamp)


class ImageLocation(_ImageChild, Base):
    __tablename__ = 'image_locations'
    value: Mapped[str] = mapped_column(Text)
    meta_data: Mapped[str] = mapped_column(Text, default='{}')
    status: Mapped[str] = mapped_column(String(30), default='active')
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp)
