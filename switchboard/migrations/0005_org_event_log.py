from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.migrations.constraints import UniqueConstraint

class Migration(migrations.Migration):
    dependencies = [('models', '0004_conversation')]

    initial = False

    operations = [
        ops.CreateModel(
            name='OrgEventCounter',
            fields=[
                ('org_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=100)),
                ('value', fields.BigIntField(default=0)),
            ],
            options={'table': 'org_event_counter', 'app': 'models', 'pk_attr': 'org_id', 'table_description': 'The newest seq handed out in one organization (``events.outbox`` upserts it, taken last).'},
            bases=['Model'],
        ),
        # Every organization goes on from the global counter's value: any cursor handed out before
        # (an event's seq, or a thread head ``e<value>``) is then below every seq handed out after,
        # so it replays exactly the events that follow it. New organizations start at 0.
        ops.RunSQL(
            "INSERT INTO org_event_counter (org_id, value)"
            " SELECT known.org_id, COALESCE((SELECT value FROM event_counter WHERE id = 1), 0)"
            " FROM (SELECT id AS org_id FROM organization UNION SELECT org_id FROM event) AS known",
            reverse_sql="INSERT INTO event_counter (id, value) SELECT 1, COALESCE(MAX(value), 0) FROM org_event_counter",
        ),
        ops.RemoveIndex(
            model_name='Event',
            name=None,
            fields=['org_id', 'seq'],
        ),
        ops.AlterField(
            model_name='Event',
            name='seq',
            field=fields.BigIntField(null=True),
        ),
        ops.AddConstraint(
            model_name='Event',
            constraint=UniqueConstraint(fields=('org_id', 'seq'), name=None),
        ),
        ops.RemoveIndex(
            model_name='Message',
            name=None,
            fields=['thread_id', 'seq'],
        ),
        ops.AlterField(
            model_name='Message',
            name='seq',
            field=fields.BigIntField(null=True),
        ),
        ops.AddConstraint(
            model_name='Message',
            constraint=UniqueConstraint(fields=('thread_id', 'seq'), name=None),
        ),
        # SQLite alters a column by rebuilding its table, and tortoise's rebuild drops the table's
        # other indexes (the idempotency key of messages among them): they are made again under
        # their names. On PostgreSQL the ALTER kept them, and IF NOT EXISTS leaves them be.
        ops.RunSQL(
            [
                'CREATE INDEX IF NOT EXISTS "idx_event_created_bab911" ON "event" ("created_at")',
                'CREATE INDEX IF NOT EXISTS "idx_message_thread__9a999b" ON "message" ("thread_id", "visibility", "seq")',
                'CREATE INDEX IF NOT EXISTS "idx_message_org_id_0c8752" ON "message" ("org_id", "created_at")',
                'CREATE UNIQUE INDEX IF NOT EXISTS "uid_message_thread__e1fe7e"'
                ' ON "message" ("thread_id", "sender_key", "client_message_id")',
            ],
            reverse_sql=ops.RunSQL.noop,
        ),
        ops.DeleteModel(name='EventCounter'),
    ]
