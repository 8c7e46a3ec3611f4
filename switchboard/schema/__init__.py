"""Strawberry types, inputs and root types: the GraphQL surface, no business logic."""
