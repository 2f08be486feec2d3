"""Property values of any length: the name/value index covers a prefix of the value.

The 0001 index held the whole value, and a btree entry is limited (PostgreSQL: about
2.7 KB), so a longer value failed the insert. The index now holds the first
PROPERTY_VALUE_PREFIX characters (MySQL/MariaDB: the same prefix as before); listing
filters compare that prefix too, so the index still serves them. On MySQL/MariaDB the
column becomes MEDIUMTEXT: TEXT holds 65535 bytes, less than a value may be
(models.PROPERTY_VALUE_MAX).

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

INDEX = 'ix_image_properties_name_value'
PREFIX = 255


def upgrade() -> None:
    if op.get_bind().dialect.name in ('mysql', 'mariadb'):
        op.alter_column('image_properties', 'value', type_=mysql.MEDIUMTEXT(),
                        existing_type=sa.Text(), existing_nullable=True)
        return          # its index was on a 255-character prefix from the start
    op.drop_index(INDEX, table_name='image_properties')
    op.create_index(INDEX, 'image_properties',
                    ['name', sa.text('substr(value, 1, %d)' % PREFIX)])


def downgrade() -> None:
    if op.get_bind().dialect.name in ('mysql', 'mariadb'):
        op.alter_column('image_properties', 'value', type_=sa.Text(),
                        existing_type=mysql.MEDIUMTEXT(), existing_nullable=True)
        return
    op.drop_index(INDEX, table_name='image_properties')
    op.create_index(INDEX, 'image_properties', ['name', 'value'])
