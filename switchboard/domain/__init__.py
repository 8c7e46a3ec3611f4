"""Business rules as plain modules: no GraphQL, testable on their own."""
