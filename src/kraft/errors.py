"""The errors users see: a sentence that names what is wrong and how to fix it.

`KraftError` is any refusal caused by the user's input or setup. Its typed subclasses say which
kind of refusal it is, so that each adapter renders it once: the web maps the type to its status
code (kraft.web.app), the CLI prints the sentence and exits 1. Domain code never speaks HTTP.
"""


class KraftError(Exception):
    """An error caused by the user's input or setup, shown without a traceback."""

    def __init__(self, message: str, *, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def __str__(self) -> str:
        return "\n".join([self.message, *self.details])


class InvalidInputError(KraftError):
    """A value the use case cannot take; the sentence starts with the field it is about."""


class NotFoundError(KraftError):
    """What was asked for does not exist, or is out of the asker's scope (the same answer, so
    that another RM's record looks exactly like a missing one)."""


class ForbiddenError(KraftError):
    """The asker may see this but not do it."""


class ConflictError(KraftError):
    """The request contradicts what is stored now (a replaced version, a running compute)."""


class StaleVersionError(KraftError):
    """The thing changed since the caller read it; nothing was changed."""


class VersionRequiredError(KraftError):
    """A change that must name the version it was made on did not name one."""


class ConfirmationRequiredError(KraftError):
    """A step that needs the user's explicit confirmation (a review of values that may still
    change) was taken without it; nothing was changed."""
