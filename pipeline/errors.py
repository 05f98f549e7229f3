"""User-facing errors of contacts-pipeline.

Every error a user can cause or meet derives from :class:`PipelineError`; the CLI turns each into one
clear line and the exit code it carries, never a traceback::

    PipelineError                    exit_code 1
    ├── InputError                   exit_code 2   the file or its mapping cannot be used at all
    │   ├── UnreadableFileError          missing, empty, binary, no header, undecodable
    │   ├── MissingKeyColumnError        neither Contact ID nor Account ID column present
    │   └── MappingError                 mapping file broken or naming unknown fields
    ├── ConfigError                  exit_code 2   bad options or environment (region, credentials, URL)
    ├── RunError                     exit_code 3   the run could not complete
    │   ├── AuthError                    credentials refused, token not issued
    │   ├── ApiUnavailableError          bulk requests kept failing as a whole: the run stopped
    │   ├── RunLockedError               another run holds the journal lock
    │   └── RunInterruptedError          Ctrl-C: stopped cleanly, resumable (exit_code 130)
    └── ApiError                     exit_code 3   an API call failed as a whole
        ├── TransientApiError            429, 5xx, timeouts, dropped connections: retried
        └── TerminalApiError             4xx other than 429: never retried

Per-row problems (invalid fields, conflicts, per-entity API errors) are data, not exceptions: they end up as
rows in the reconciliation file.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Root of every error meant for the user; ``str(err)`` is the one line shown."""

    exit_code: int = 1


class InputError(PipelineError):
    """The input file or mapping file cannot be used at all."""

    exit_code = 2


class UnreadableFileError(InputError):
    """The file is missing, empty, binary, undecodable or has no header."""


class MissingKeyColumnError(InputError):
    """The file has neither a Contact ID nor an Account ID column."""


class MappingError(InputError):
    """The mapping file is malformed or names fields that do not exist."""


class ConfigError(PipelineError):
    """Options or environment are invalid (region, credentials, base URL, ...)."""

    exit_code = 2


class RunError(PipelineError):
    """The run could not complete."""

    exit_code = 3


class AuthError(RunError):
    """The login service refused the client credentials."""


class ApiUnavailableError(RunError):
    """Bulk requests kept failing as a whole (after retries): the run stops, not every record fails."""


class RunLockedError(RunError):
    """Another run holds the journal lock."""


class RunInterruptedError(RunError):
    """The run was interrupted (Ctrl-C); the journal has every answered batch and it can be resumed."""

    # 130 is what shells report for a process ended by SIGINT, so scripts can tell it from a failure.
    exit_code = 130

    def __init__(self, message: str, *, run_id: int) -> None:
        super().__init__(message)
        self.run_id = run_id


class ApiError(PipelineError):
    """An API request failed as a whole (not a per-entity error inside a bulk response).

    Carries the HTTP status and the Genesys error ``code`` when there was a response, and never the
    request's headers: they hold the bearer token.
    """

    exit_code = 3

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.method = method
        self.url = url


class TransientApiError(ApiError):
    """429, 5xx, timeouts and connection errors: worth retrying."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class TerminalApiError(ApiError):
    """A 4xx other than 429: retrying cannot help.

    ``after_lost_answer`` says an earlier attempt of the same request may have reached the server without
    its answer reaching us (a dropped connection or a 5xx, then a retry): a 404 to a retried DELETE then
    most likely means that earlier attempt deleted the record.
    """

    def __init__(self, message: str, *, after_lost_answer: bool = False, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.after_lost_answer = after_lost_answer
