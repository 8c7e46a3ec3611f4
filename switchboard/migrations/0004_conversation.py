from tortoise import migrations
from tortoise.migrations import operations as ops
from switchboard.rules.enums import MessageVisibility, SenderKind
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0003_organization_conversation_settings')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Message',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('org', fields.ForeignKeyField('models.Organization', source_field='org_id', db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.CASCADE)),
                ('thread', fields.ForeignKeyField('models.Thread', source_field='thread_id', db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.CASCADE)),
                ('sender_kind', fields.CharEnumField(description='VISITOR: VISITOR\nBOT: BOT\nAGENT: AGENT\nSYSTEM: SYSTEM', enum_type=SenderKind, max_length=7)),
                ('sender_key', fields.CharField(max_length=120)),
                ('author', fields.ForeignKeyField('models.Agent', source_field='author_id', null=True, db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.SET_NULL)),
                ('visitor', fields.ForeignKeyField('models.Visitor', source_field='visitor_id', null=True, db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.SET_NULL)),
                ('visibility', fields.CharEnumField(description='PUBLIC: PUBLIC\nINTERNAL: INTERNAL', enum_type=MessageVisibility, max_length=8)),
                ('body', fields.TextField(unique=False)),
                ('client_message_id', fields.CharField(null=True, max_length=100)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('seq', fields.BigIntField(null=True, unique=True)),
            ],
            options={'table': 'message', 'app': 'models', 'unique_together': (('thread_id', 'sender_key', 'client_message_id'),), 'indexes': [Index(fields=['thread_id', 'seq']), Index(fields=['thread_id', 'visibility', 'seq']), Index(fields=['org_id', 'created_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReadMark',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('org', fields.ForeignKeyField('models.Organization', source_field='org_id', db_constraint=True, to_field='id', related_name='read_marks', on_delete=OnDelete.CASCADE)),
                ('thread', fields.ForeignKeyField('models.Thread', source_field='thread_id', db_constraint=True, to_field='id', related_name='read_marks', on_delete=OnDelete.CASCADE)),
                ('agent', fields.ForeignKeyField('models.Agent', source_field='agent_id', db_constraint=True, to_field='id', related_name='read_marks', on_delete=OnDelete.CASCADE)),
                ('seq', fields.BigIntField()),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'read_mark', 'app': 'models', 'unique_together': (('agent_id', 'thread_id'),), 'pk_attr': 'id', 'table_description': 'How far an agent has read a thread: every message up to the one whose ``seq`` this is.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Thread',
            name='assigned_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Thread',
            name='first_response_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Thread',
            name='last_visitor_message_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddIndex(
            model_name='Thread',
            index=Index(fields=['org_id', 'assigned_at']),
        ),
    ]
