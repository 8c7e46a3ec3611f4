"""Use cases: each change is one transaction (rows plus its typed events in the outbox).

What lives here: the use cases per aggregate (``agents``, ``organization``,
``queue_config``, ``threads``, ``collaboration``, ``invites`` and
``answers``, ``queueing`` and ``entries``, ``routing``), the reads that
feed estimates and analytics (``estimates``, ``metrics``), the one tenancy
filter (``tenancy``: every query of a tenant's rows, and the access policy's
scopes turned into filters), pages of queries (``pagination``) and the
transaction helper (``transaction.atomic``).

What does not: rules (``rules``: pure, imported from here), GraphQL (inputs,
global IDs and field paths are the GraphQL layer's; use cases take primary
keys and plain values and raise problems with logical fields), Redis and the
process's helpers (``runtime``: rate limits are taken before the transaction,
by the caller). Imports go downwards only: events, models, rules.
"""
