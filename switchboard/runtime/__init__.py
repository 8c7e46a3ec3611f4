"""The process: what runs beside requests, one of each per server process.

What lives here: the typed ``Services`` object the lifespan builds
(``process``), the one periodic ``Scheduler`` of every background job
(``scheduler``: invite expiry, queue overflow, the routing safety pass, the
event bus's catch-up poll and pruning), the deadline jobs (``sweepers``), the
router (``router``), the invite rate limiter (``ratelimit``), the hubs that
feed live subscriptions (``positions``, ``stats``, their ``slots``), the
rows events render from (``event_rows``) and their /metrics (``collector``).

What does not: rules, use cases, events themselves (below: ``rules``,
``services``, ``events``) and the GraphQL surface (above: ``graphql``).
"""
