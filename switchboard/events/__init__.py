"""Events: what happened, typed, written with the change and delivered to every process.

What lives here: the typed events (``types``: a dataclass per kind with an enum
kind), their row and JSON forms (``codec``), snapshots of changing columns
(``snapshots``), the outbox that writes a transaction's events into the log
inside it (``outbox``), the process's bus (``bus``: ordered, exactly-once
dispatch, gap fill, replay, catch-up, prune, each per organization), the
Redis transport (``transport``), resume cursors (``cursors``) and the raw
statements' parameter markers (``sql``).

What does not: the use cases that emit events (``services``), the periodic
jobs that run ``catch_up`` and ``prune`` (``runtime``), the GraphQL streams
that render events (``graphql``). Events sit below the use cases because a
use case writes its typed events into the log in its own transaction; they
import only models and rules.
"""
