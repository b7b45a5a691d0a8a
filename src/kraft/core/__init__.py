"""The application core: one workspace context (`Kraft`) and the use cases on it.

Every use case is written here once, as a plain function taking the context, raising typed
errors (kraft.errors) and writing its own audit entries. The CLI and the web are adapters over it:
they parse, call and render, and know nothing the other does not."""
