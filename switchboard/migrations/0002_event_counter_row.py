from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]

    # The event sequencer updates this one row; it must exist before any event.
    operations = [
        ops.RunSQL(
            "INSERT INTO event_counter (id, value) VALUES (1, 0)",
            reverse_sql="DELETE FROM event_counter WHERE id = 1",
        ),
    ]
