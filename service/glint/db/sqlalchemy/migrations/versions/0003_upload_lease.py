"""Uploads as leases: the uploading process's token and when its lease runs out.

An image in ``saving`` whose lease has expired has lost its upload (the worker or host
died, or the client stopped sending): another worker may take the lease over, remove
the partial data and return the image to ``queued`` (glint.domain.gateway).

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql', 'mariadb')


def upgrade() -> None:
    with op.batch_alter_table('images') as batch_op:
        batch_op.add_column(sa.Column('upload_lease', sa.String(36), nullable=True))
        batch_op.add_column(sa.Column('upload_expires_at', TIMESTAMP, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('images') as batch_op:
        batch_op.drop_column('upload_expires_at')
        batch_op.drop_column('upload_lease')
