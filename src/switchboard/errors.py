"""One exception hierarchy for the whole package.

    SwitchboardError
    ├── RequestError            recoverable: this request is refused, the server goes on
    │   ├── InvalidRequestError         400, bad parameter or payload
    │   │   ├── ContentPolicyError      400, a guardrail blocked the message
    │   │   └── ContextLengthError      400, prompt (+ max_tokens) over the context window
    │   │       └── PromptTooLongError      the assistant's system + user message alone
    │   ├── AuthenticationError         401, a missing or wrong service token
    │   │   ├── InvalidAPIKeyError          401, a missing, unknown, expired or revoked API key
    │   │   └── CustomerTokenError          401, no, a bad or an expired customer token
    │   ├── PermissionDeniedError       403, the API key lacks the scope of this endpoint
    │   │   └── CustomerMismatchError       403, a customer token for another customer
    │   ├── KeyNotFoundError            404, unknown API key id (admin)
    │   ├── ModelNotFoundError          404, unknown model name
    │   ├── CollectionNotFoundError     404, unknown knowledge-base collection
    │   ├── DocumentNotFoundError       404, unknown document in a collection
    │   ├── CustomerNotFoundError       404, unknown customer of the Order API
    │   ├── OrderNotFoundError          404, no such order of this customer
    │   ├── OrderNotCancellableError    409, the order has shipped: too late to cancel it
    │   ├── SessionNotFoundError        404, no such assistant session of this customer
    │   ├── TurnNotFoundError           404, no such answer in the customer's session
    │   ├── JobNotFoundError            404, no such upload job in this tenant's collection
    │   ├── PayloadTooLargeError        413, an upload over the size limit
    │   ├── RateLimitError              429, over requests or tokens per minute (retry_after_s)
    │   ├── BudgetExceededError         429, the key's or tenant's budget would be exceeded
    │   ├── QueueFullError              503, waiting queue full (carries retry_after_s)
    │   ├── JobQueueFullError           503, too many upload jobs waiting (retry_after_s)
    │   ├── DependencyUnavailableError  503, a service this request needs is down
    │   ├── StorageError                503, a database file failed (names it and the fix)
    │   ├── UpstreamError               502, a remote model server failed (carries its status)
    │   └── GenerationError             500, the engine failed on this request only (a bug)
    ├── KVCacheFullError        the runner found no KV cells; the engine preempts and retries
    ├── RequestCancelledError   the client left: work on its request stopped half-way
    ├── CircuitOpenError        a circuit breaker refuses calls to a failing dependency
    ├── OrderServiceUnavailable the Order API is down, timing out or its breaker is open
    └── FatalError              unrecoverable for the component that raised it
        ├── EngineDeadError             the engine loop died; every request fails
        ├── ModelFileError              a model file is missing, corrupt or fails its sha256
        ├── ModelMismatchError          a draft model whose vocabulary differs from its target's
        ├── ServiceStartError           a server cannot listen, or the Order API did not come up
        └── OrderServiceAuthError       the Order API refused our service token (configuration)

The HTTP edge maps each ``RequestError`` to OpenAI's error JSON via ``status_code``,
``error_type`` and ``param``; the CLI prints ``str(error)`` on one line.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence


class SwitchboardError(Exception):
    """Base of every error Switchboard raises on purpose."""


class RequestError(SwitchboardError):
    status_code = 400
    error_type = "invalid_request_error"
    code: str | None = None
    retry_after_s: float | None = None  # sent as Retry-After (whole seconds, rounded up)

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class InvalidRequestError(RequestError):
    pass


class ContentPolicyError(InvalidRequestError):
    """A guardrail blocked the request's message (prompt injection, abuse...)."""

    code = "content_policy_violation"


class ContextLengthError(InvalidRequestError):
    code = "context_length_exceeded"

    def __init__(
        self,
        *,
        requested: int,
        limit: int,
        prompt_tokens: int,
        param: str = "messages",
        at_least: bool = False,
    ) -> None:
        """``at_least``: ``prompt_tokens`` is a lower bound (the prompt was not counted)."""
        more = "at least " if at_least else ""
        super().__init__(
            f"This model's maximum context length is {limit} tokens. However, you requested "
            f"{more}{requested} tokens ({more}{prompt_tokens} in the prompt, "
            f"{requested - prompt_tokens} for the completion). Please reduce the length of "
            "the prompt or the completion.",
            param=param,
        )
        self.requested = requested
        self.limit = limit
        self.prompt_tokens = prompt_tokens


class PromptTooLongError(ContextLengthError, ValueError):
    """The system instructions and the user message alone exceed the prompt budget."""

    def __init__(self, *, prompt_tokens: int, max_tokens: int, max_model_len: int) -> None:
        super().__init__(
            requested=prompt_tokens + max_tokens, limit=max_model_len, prompt_tokens=prompt_tokens
        )
        self.max_tokens = max_tokens
        self.message = (
            f"The system instructions and the user message alone take {prompt_tokens} prompt "
            f"tokens; with max_tokens={max_tokens} that exceeds the budget of "
            f"{max_model_len - max_tokens} prompt tokens. {self.message}"
        )
        self.args = (self.message,)


class ModelNotFoundError(RequestError):
    status_code = 404
    code = "model_not_found"

    def __init__(self, model: str) -> None:
        super().__init__(f"The model '{model}' does not exist.", param="model")


class AssistantNotFoundError(RequestError):
    status_code = 404
    code = "assistant_not_found"

    def __init__(self, name: str, known: Sequence[str] = (), param: str = "assistant") -> None:
        served = ", ".join(known) if known else "none"
        super().__init__(f"The assistant '{name}' does not exist (served: {served}).", param=param)


class CollectionNotFoundError(RequestError):
    status_code = 404
    code = "collection_not_found"

    def __init__(self, collection: str) -> None:
        super().__init__(f"The collection '{collection}' does not exist.", param="collection")


class DocumentNotFoundError(RequestError):
    status_code = 404
    code = "document_not_found"

    def __init__(self, document_id: str, collection: str) -> None:
        super().__init__(f"The document '{document_id}' is not in the collection '{collection}'.")


class AuthenticationError(RequestError):
    status_code = 401
    error_type = "authentication_error"
    code = "invalid_service_token"


class InvalidAPIKeyError(AuthenticationError):
    code = "invalid_api_key"

    def __init__(self, reason: str = "Incorrect API key provided.") -> None:
        super().__init__(reason)


class CustomerTokenError(AuthenticationError):
    """The assistant needs a signed customer token (``x-customer-token``) and has none valid:
    ``code`` is ``customer_token_required``, ``customer_token_invalid`` or
    ``customer_token_expired``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class PermissionDeniedError(RequestError):
    status_code = 403
    error_type = "permission_error"
    code = "insufficient_scope"


class CustomerMismatchError(PermissionDeniedError):
    """A valid customer token for another customer than the request names."""

    code = "customer_mismatch"


class KeyNotFoundError(RequestError):
    status_code = 404
    code = "key_not_found"

    def __init__(self, key_id: str) -> None:
        super().__init__(f"The API key '{key_id}' does not exist.")


class RateLimitError(RequestError):
    """Over a per-minute limit; ``limit_type`` is ``requests`` or ``tokens`` (OpenAI's types)."""

    status_code = 429
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, limit_type: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.error_type = limit_type
        self.retry_after_s = retry_after_s


class BudgetExceededError(RequestError):
    status_code = 429
    error_type = "insufficient_quota"
    code = "insufficient_quota"


class CustomerNotFoundError(RequestError):
    status_code = 404
    code = "customer_not_found"

    def __init__(self, customer_id: str) -> None:
        super().__init__(f"The customer '{customer_id}' does not exist.")


class OrderNotFoundError(RequestError):
    """Also raised for another customer's order, with the same message: no probing."""

    status_code = 404
    code = "order_not_found"

    def __init__(self, order_id: str) -> None:
        super().__init__(f"The order '{order_id}' does not exist.")


class OrderNotCancellableError(RequestError):
    """The order has left the warehouse (or ended otherwise): it can no longer be cancelled."""

    status_code = 409
    code = "order_not_cancellable"

    def __init__(self, order_id: str, status: str) -> None:
        super().__init__(
            f"The order '{order_id}' is {status.replace('_', ' ')} and can no longer be cancelled."
        )


class SessionNotFoundError(RequestError):
    """Also raised for another customer's session, with the same message: no probing."""

    status_code = 404
    code = "session_not_found"

    def __init__(self, session_id: str) -> None:
        super().__init__(f"The session '{session_id}' does not exist.")


class TurnNotFoundError(RequestError):
    """An answer (``turn_id``, the ``done`` event's) that its session does not hold."""

    status_code = 404
    code = "turn_not_found"

    def __init__(self, session_id: str, turn_id: int) -> None:
        super().__init__(f"The session '{session_id}' has no answer {turn_id}.", param="turn_id")


class JobNotFoundError(RequestError):
    """Also raised for another tenant's job, with the same message: no probing."""

    status_code = 404
    code = "job_not_found"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"The job '{job_id}' does not exist.")


class PayloadTooLargeError(RequestError):
    status_code = 413
    code = "payload_too_large"


class QueueFullError(RequestError):
    status_code = 503
    error_type = "server_overloaded"
    code = "queue_full"

    def __init__(self, waiting: int, retry_after_s: int = 1) -> None:
        super().__init__(f"The engine's waiting queue is full ({waiting} requests); retry later.")
        self.retry_after_s = retry_after_s


class JobQueueFullError(RequestError):
    status_code = 503
    error_type = "server_overloaded"
    code = "queue_full"

    def __init__(self, waiting: int, retry_after_s: int = 5) -> None:
        super().__init__(f"{waiting} upload jobs are waiting already; retry later.")
        self.retry_after_s = retry_after_s


class DependencyUnavailableError(RequestError):
    status_code = 503
    error_type = "server_error"
    code = "service_unavailable"


class StorageError(RequestError, sqlite3.DatabaseError):
    """A SQLite file failed (damaged, full, read-only, locked...). The message names the
    file and the recovery step; it is also a ``sqlite3.DatabaseError``, so code that
    handles SQLite's own errors handles it too."""

    status_code = 503
    error_type = "server_error"
    code = "storage_error"


class UpstreamError(RequestError):
    """A remote model server refused, failed, stalled or broke off this request's stream.

    ``upstream_status`` is the server's HTTP status, ``None`` when it never sent one
    (connection refused, a timeout, a stream cut short or malformed).
    """

    status_code = 502
    error_type = "server_error"
    code = "upstream_error"

    def __init__(self, message: str, *, upstream_status: int | None = None) -> None:
        super().__init__(message)
        self.upstream_status = upstream_status


class GenerationError(RequestError):
    """The engine failed while sampling or detokenizing this one request (a bug, logged
    with its traceback): the request ends, the engine goes on serving the others."""

    status_code = 500
    error_type = "server_error"
    code = "generation_failed"


class KVCacheFullError(SwitchboardError):
    """llama.cpp found no KV slot for a batch (``llama_decode`` returned 1)."""


class RequestCancelledError(SwitchboardError):
    """The request was cancelled (its client left): the work on it stopped half-way, in a
    worker thread that no one waits for any more."""


class FatalError(SwitchboardError):
    pass


class EngineDeadError(FatalError):
    """Every request fails: the HTTP edge answers 503 ``engine_dead`` (and logs it so)."""

    status_code = 503
    code = "engine_dead"


class ModelFileError(FatalError):
    pass


class ModelMismatchError(FatalError):
    """Two models that must share a vocabulary (a draft and its target) do not."""


class ServiceStartError(FatalError):
    pass


class CircuitOpenError(SwitchboardError):
    """Refused without calling: the breaker is open for another ``retry_after_s``."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"circuit open: calls refused for another {retry_after_s:.1f} s")
        self.retry_after_s = retry_after_s


class OrderServiceUnavailable(SwitchboardError):
    """The order system cannot answer now: say so plainly and offer a handoff, never guess."""


class OrderServiceAuthError(FatalError):
    """The Order API answered 401: our service token is wrong; retrying cannot help."""


#: Status recorded (and sent to nobody) for a request whose client left before its answer
#: ended (nginx's convention).
CLIENT_CLOSED_REQUEST = 499


def outcome(error: BaseException | None) -> tuple[int, str | None]:
    """The HTTP status and error code a request ended with, for its record and metrics:
    200, the status of a refusal, 499 for a client that left, or 500."""
    if error is None:
        return 200, None
    if isinstance(error, RequestError | EngineDeadError):
        return error.status_code, error.code
    if isinstance(error, GeneratorExit | asyncio.CancelledError):
        return CLIENT_CLOSED_REQUEST, "client_closed_request"
    return 500, "internal_error"
