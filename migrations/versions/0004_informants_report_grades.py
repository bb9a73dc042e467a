"""informant profiles and report grades

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('informant_profile',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('display_name', sa.String(length=32), nullable=False),
    sa.Column('phone', sa.String(length=16), nullable=False),
    sa.Column('work_type', sa.Enum('food_delivery', 'courier', 'ride_hailing', 'other', name='work_type', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('active', 'paused', 'removed', name='informant_status', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('invited_by_telegram_id', sa.BigInteger(), nullable=True),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['community.id'], name=op.f('fk_informant_profile_community_id_community')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_informant_profile_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_informant_profile')),
    sa.UniqueConstraint('person_id', name=op.f('uq_informant_profile_person_id'))
    )
    with op.batch_alter_table('informant_profile', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_informant_profile_community_id'), ['community_id'], unique=False)

    op.create_table('report_grade',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('informant_id', sa.Integer(), nullable=False),
    sa.Column('grade', sa.Enum('valid', 'duplicate', 'invalid', name='grade', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('graded_by_id', sa.Integer(), nullable=True),
    sa.Column('graded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('points >= 0', name=op.f('ck_report_grade_points_non_negative')),
    sa.ForeignKeyConstraint(['graded_by_id'], ['person.id'], name=op.f('fk_report_grade_graded_by_id_person')),
    sa.ForeignKeyConstraint(['informant_id'], ['person.id'], name=op.f('fk_report_grade_informant_id_person')),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_report_grade_ticket_id_ticket'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_grade')),
    sa.UniqueConstraint('ticket_id', name=op.f('uq_report_grade_ticket_id'))
    )
    with op.batch_alter_table('report_grade', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_grade_graded_at'), ['graded_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_grade_informant_id'), ['informant_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('report_grade', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_grade_informant_id'))
        batch_op.drop_index(batch_op.f('ix_report_grade_graded_at'))

    op.drop_table('report_grade')
    with op.batch_alter_table('informant_profile', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_informant_profile_community_id'))

    op.drop_table('informant_profile')
