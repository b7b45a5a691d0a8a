"""Server-rendered pages, one module a topic, each with a `router`."""
