"""Initial schema: images and their properties, tags, members and locations.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None

# Microsecond precision on MySQL/MariaDB too: listings are ordered by created_at.
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql', 'mariadb')


def upgrade() -> None:
    op.create_table('images',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('visibility', sa.String(length=9), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('virtual_size', sa.BigInteger(), nullable=True),
    sa.Column('disk_format', sa.String(length=20), nullable=True),
    sa.Column('container_format', sa.String(length=20), nullable=True),
    sa.Column('checksum', sa.String(length=32), nullable=True),
    sa.Column('os_hash_algo', sa.String(length=64), nullable=True),
    sa.Column('os_hash_value', sa.String(length=128), nullable=True),
    sa.Column('min_disk', sa.Integer(), nullable=False),
    sa.Column('min_ram', sa.Integer(), nullable=False),
    sa.Column('protected', sa.Boolean(), nullable=False),
    sa.Column('os_hidden', sa.Boolean(), nullable=False),
    sa.Column('created_at', TIMESTAMP, nullable=False),
    sa.Column('updated_at', TIMESTAMP, nullable=False),
    sa.Column('deleted_at', TIMESTAMP, nullable=True),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('images', schema=None) as batch_op:
        batch_op.create_index('ix_images_checksum', ['checksum'], unique=False)
        batch_op.create_index('ix_images_deleted_at', ['deleted_at'], unique=False)
        batch_op.create_index('ix_images_deleted_created_at', ['deleted', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_images_name', ['name'], unique=False)
        batch_op.create_index('ix_images_os_hash_value', ['os_hash_value'], unique=False)
        batch_op.create_index('ix_images_owner', ['owner'], unique=False)
        batch_op.create_index('ix_images_status', ['status'], unique=False)
        batch_op.create_index('ix_images_visibility', ['visibility'], unique=False)

    op.create_table('image_locations',
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('meta_data', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('created_at', TIMESTAMP, nullable=False),
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('image_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('image_locations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_image_locations_image_id'), ['image_id'], unique=False)

    op.create_table('image_members',
    sa.Column('member', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('can_share', sa.Boolean(), nullable=False),
    sa.Column('created_at', TIMESTAMP, nullable=False),
    sa.Column('updated_at', TIMESTAMP, nullable=False),
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('image_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('image_id', 'member')
    )
    with op.batch_alter_table('image_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_image_members_image_id'), ['image_id'], unique=False)
        batch_op.create_index('ix_image_members_member_status', ['member', 'status'], unique=False)

    op.create_table('image_properties',
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('value', sa.Text(), nullable=True),
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('image_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('image_id', 'name')
    )
    with op.batch_alter_table('image_properties', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_image_properties_image_id'), ['image_id'], unique=False)
        batch_op.create_index('ix_image_properties_name_value', ['name', 'value'], unique=False, mysql_length={'value': 255})

    op.create_table('image_tags',
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('image_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('image_id', 'value')
    )
    with op.batch_alter_table('image_tags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_image_tags_image_id'), ['image_id'], unique=False)
        batch_op.create_index('ix_image_tags_value', ['value'], unique=False)

