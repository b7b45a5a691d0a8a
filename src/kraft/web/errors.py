"""The HTTP status of each kind of refusal, in one place: the core raises typed errors
(kraft.errors), the web answers them with these codes, as problem+json or an error page."""

from __future__ import annotations

from kraft.errors import (
    ConfirmationRequiredError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    KraftError,
    NotFoundError,
    StaleVersionError,
    VersionRequiredError,
)

# Most specific first: an error may be of two kinds (a review refused as not allowed is both a
# conflict with the review and forbidden), and the first kind found names the status.
STATUSES: tuple[tuple[type[KraftError], int], ...] = (
    (ForbiddenError, 403),
    (NotFoundError, 404),
    (StaleVersionError, 412),
    (VersionRequiredError, 428),
    (InvalidInputError, 422),
    (ConfirmationRequiredError, 409),
    (ConflictError, 409),
)
BAD_REQUEST = 400  # any other refusal of the user's input or setup


def status_of(error: KraftError) -> int:
    """The status code a refusal answers with."""
    for kind, status in STATUSES:
        if isinstance(error, kind):
            return status
    return BAD_REQUEST
