"""Switchboard: a GraphQL API, with subscriptions, for customer-service teams."""

__version__ = "0.1.0"
