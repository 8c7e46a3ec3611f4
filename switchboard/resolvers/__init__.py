"""Thin resolver functions: authorise, decode, call the domain, shape the result."""
