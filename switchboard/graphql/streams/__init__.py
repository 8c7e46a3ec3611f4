"""Subscription streams: set up through the access policy, then fed by the process's bus and hubs."""
