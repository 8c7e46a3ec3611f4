"""Thin resolvers of the root fields: ask the access policy, decode global IDs, call a use case,
map its problems' logical fields to input paths, shape the payload. No business rule lives here."""
