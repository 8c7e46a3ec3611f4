"""The rules of Switchboard, as plain Python: nothing here touches a database, GraphQL or Redis.

What lives here: the vocabularies (``enums``), problems with their logical
field (``problems``), input rules (``validation``), the collaborator cap
(``caps``), the invite's life (``invites``), queue order (``queue_order``),
routing preferences (``routing``), wait estimates (``estimates``), analytics
figures (``metrics``), global IDs (``ids``), pagination arithmetic
(``pagination``) and the one access policy (``policy``).

What does not: anything that reads or writes rows (``services``), events
(``events``), process-wide helpers (``runtime``) or the GraphQL surface
(``graphql``). This package imports only the standard library and itself
(enforced by import-linter and by a test that imports it in a fresh
interpreter), and it is type-checked with mypy's strict mode.
"""
