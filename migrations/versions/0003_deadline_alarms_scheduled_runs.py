"""deadline alarms, scheduled runs, unreachable people

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('scheduled_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job', sa.String(length=32), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduled_run')),
    sa.UniqueConstraint('job', 'period', name=op.f('uq_scheduled_run_job_period'))
    )
    op.create_table('deadline_alarm',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('respond_reminder', 'respond_overdue', 'respond_escalation', 'resolve_reminder', 'resolve_overdue', 'resolve_escalation', name='alarm_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('fired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_deadline_alarm_ticket_id_ticket'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deadline_alarm'))
    )
    with op.batch_alter_table('deadline_alarm', schema=None) as batch_op:
        batch_op.create_index('ix_deadline_alarm_due', ['due_at'], unique=False, postgresql_where=sa.text('fired_at IS NULL'), sqlite_where=sa.text('fired_at IS NULL'))
        batch_op.create_index(batch_op.f('ix_deadline_alarm_ticket_id'), ['ticket_id'], unique=False)

    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unreachable_at', sa.DateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('unreachable_at')

    with op.batch_alter_table('deadline_alarm', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deadline_alarm_ticket_id'))
        batch_op.drop_index('ix_deadline_alarm_due', postgresql_where=sa.text('fired_at IS NULL'), sqlite_where=sa.text('fired_at IS NULL'))

    op.drop_table('deadline_alarm')
    op.drop_table('scheduled_run')
