"""The GraphQL surface: schema, types, inputs, payloads, the request context, limits, resolvers, streams.

What lives here: strawberry types (``types``), inputs and payloads, the root
types (``query``, ``mutation``, ``subscription``) and the executable
``schema``, the typed request ``context`` with its DataLoaders (``loaders``),
query ``limits``, thin ``resolvers`` (authorise through the policy, decode
global IDs, call a use case, map problems' logical fields to input paths) and
subscription ``streams``.

What does not: rules, use cases, events, Redis (below: ``rules``,
``services``, ``events``, ``runtime``). Nothing below imports this package.
Types never import resolvers or streams.
"""
