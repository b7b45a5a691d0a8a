"""The synthetic demo book: every table of the import contract, generated with numpy.

`generate.generate_book()` returns one pyarrow Table per contract table (schema.tables.TABLES), each with
exactly the contract's columns in its order. The book is deterministic for a seed and vectorised
throughout: Python loops run only over teams, term generations and activity types, never over
clients, policies or rows. docs/demo-book.md explains the distributions and the planted effects.

Dates are handled as int64 day numbers (days since 1970-01-01) and converted to date32 at the end.

One module per part of the book: organisation (window, teams, RMs, the initiative), clients,
leads, policies (terms and renewals, document checks), claims, interactions, surveys, activities
(and compliance, tool usage, team goals, measurements); beneath them constants, draws, spans and
arrow (the contract's column types).
"""
