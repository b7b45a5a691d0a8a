"""The one exception type users see: a sentence that names what is wrong and how to fix it."""


class KraftError(Exception):
    """An error caused by the user's input or setup, shown without a traceback."""

    def __init__(self, message: str, *, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def __str__(self) -> str:
        return "\n".join([self.message, *self.details])
