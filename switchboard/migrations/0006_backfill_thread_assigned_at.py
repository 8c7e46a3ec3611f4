from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0005_org_event_log")]

    initial = False

    # 0004 added thread.assigned_at empty. An agent's first reply on a thread that was
    # assigned before the upgrade would then never count as a first response (it needs
    # assigned_at): take it from the thread's latest assignment through a queue, the
    # only record of it. A thread handed over directly keeps it empty, as before.
    operations = [
        ops.RunSQL(
            "UPDATE thread SET assigned_at = ("
            " SELECT MAX(queue_entry.assigned_at) FROM queue_entry"
            " WHERE queue_entry.thread_id = thread.id AND queue_entry.status = 'ASSIGNED')"
            " WHERE assigned_at IS NULL AND EXISTS ("
            " SELECT 1 FROM queue_entry"
            " WHERE queue_entry.thread_id = thread.id AND queue_entry.status = 'ASSIGNED'"
            " AND queue_entry.assigned_at IS NOT NULL)",
            reverse_sql=ops.RunSQL.noop,
        ),
    ]
