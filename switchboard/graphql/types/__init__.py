"""The GraphQL types: entities, connections, the viewer, subscription payloads, analytics.

A type resolves its relations through the request's DataLoaders and asks the
access policy what the caller may see (a thread's reach, agent identities);
types never import resolvers. Types of different modules refer to each other
lazily (``strawberry.lazy``) and build each other through module references.
"""
