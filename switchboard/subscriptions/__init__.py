"""Event bus, Redis transport and the subscription generators."""
