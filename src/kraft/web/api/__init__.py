"""The JSON API under /api/v1, one module a topic, each with a `router`."""
