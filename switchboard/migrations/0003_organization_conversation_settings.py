from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_event_counter_row')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Organization',
            name='messages_per_visitor_per_minute',
            field=fields.IntField(default=30),
        ),
        ops.AddField(
            model_name='Organization',
            name='query_cost_budget',
            field=fields.IntField(default=200000),
        ),
        ops.AddField(
            model_name='Organization',
            name='query_cost_restore_per_second',
            field=fields.IntField(default=5000),
        ),
        ops.AddField(
            model_name='Organization',
            name='reopen_on_visitor_message_seconds',
            field=fields.IntField(default=86400),
        ),
        ops.AddField(
            model_name='Organization',
            name='service_name',
            field=fields.CharField(default='Support', max_length=200),
        ),
    ]
