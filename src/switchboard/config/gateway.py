"""The gateway: providers and routes, limits, budgets, prices, request log, traces and
customer tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, SecretStr, model_validator

from switchboard.names import check_name


class ProviderSettings(BaseModel):
    """A model server the gateway routes to: ``local`` (this process's engine) or any
    OpenAI-compatible HTTP server (vLLM, llama-server, Ollama, OpenAI)."""

    name: Annotated[str, AfterValidator(lambda v: check_name("provider", v))] = Field(
        description="What routes call it."
    )
    kind: Literal["local", "openai"] = Field(
        "openai", description="local: this process's engine; openai: an HTTP server."
    )
    base_url: str | None = Field(None, description="e.g. http://127.0.0.1:8080/v1")
    api_key: SecretStr | None = Field(None, description="Sent as a Bearer token.")
    connect_timeout_s: float = Field(2.0, gt=0, description="Longest wait to connect.")
    read_timeout_s: float = Field(60.0, gt=0, description="Longest wait between two chunks.")
    max_retries: int = Field(1, ge=0, le=10, description="Retries on this provider first.")
    backoff_s: float = Field(0.05, ge=0, description="First retry delay; doubles, jittered.")
    breaker_failures: int = Field(5, ge=1, description="Consecutive failures that open it.")
    breaker_reset_s: float = Field(30.0, gt=0, description="Open time before one trial call.")
    max_connections: int = Field(512, ge=1, description="Open connections to it at most.")

    @model_validator(mode="after")
    def _check_url(self) -> ProviderSettings:
        if self.kind == "openai" and not self.base_url:
            raise ValueError(f"provider {self.name!r} of kind 'openai' needs base_url")
        return self


class RouteTarget(BaseModel):
    provider: str = Field(description="A provider's name (or 'local').")
    model: str = Field(description="The model name that provider expects.")
    max_model_len: int | None = Field(
        None,
        ge=16,
        description="Its context window, if known: a request without max_tokens may use "
        "the rest of it (unknown: limits.reserve_max_tokens is sent as max_tokens).",
    )


class RouteSettings(BaseModel):
    """A model alias: providers tried in order until one produces a first token."""

    targets: list[RouteTarget] = Field(min_length=1, description="Tried in this order.")
    ttft_deadline_s: float | None = Field(
        10.0, gt=0, description="No first token by then: the next target, before any byte."
    )


class Price(BaseModel):
    """USD per million tokens."""

    input_per_mtok: float = Field(0.0, ge=0, description="USD per million prompt tokens.")
    output_per_mtok: float = Field(0.0, ge=0, description="USD per million output tokens.")


class LimitSettings(BaseModel):
    backend: Literal["memory", "redis"] = Field(
        "memory", description="memory: one server; redis: limits shared by every replica."
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0", description="The Redis of the redis backend."
    )
    default_rpm: int | None = Field(None, ge=1, description="Keys without their own limit.")
    default_tpm: int | None = Field(None, ge=1, description="Keys without their own limit.")
    reserve_max_tokens: int = Field(
        1024,
        ge=1,
        description="max_tokens of a request that sets none, for a target whose context "
        "window is unknown (route target max_model_len).",
    )
    max_messages: int = Field(1000, ge=1, description="Messages per chat request.")
    max_prompt_chars: int = Field(
        500_000, ge=1, description="Characters of a chat request's messages together."
    )


class RequestLogSettings(BaseModel):
    enabled: bool = Field(True, description="Log every request (SQLite, in batches).")
    queue_size: int = Field(10_000, ge=1, description="Records waiting; beyond it they drop.")
    batch_size: int = Field(500, ge=1, description="Records written per transaction.")
    flush_interval_s: float = Field(0.5, gt=0, description="Longest a record waits to be written.")
    record_text: bool = Field(False, description="Keep input and output text (redacted).")
    max_text_chars: int = Field(4000, ge=0, description="Text kept per record (record_text).")


class TracingSettings(BaseModel):
    otlp_endpoint: str | None = Field(
        None, description="OTLP/HTTP traces endpoint, e.g. http://127.0.0.1:4318/v1/traces."
    )
    service_name: str = Field("switchboard", description="service.name of the spans.")


class CustomerTokenSettings(BaseModel):
    """Signed customer tokens (``x-customer-token``): who the assistant acts for."""

    default_ttl_s: int = Field(3600, ge=1, description="Lifetime of a token minted without a ttl.")
    max_ttl_s: int = Field(
        86_400,
        ge=1,
        description="Longest lifetime a token may be minted with; also how long a rotated-out "
        "secret still verifies by default, so the tokens it signed live out their expiry.",
    )

    @model_validator(mode="after")
    def _check_ttls(self) -> CustomerTokenSettings:
        if self.default_ttl_s > self.max_ttl_s:
            raise ValueError("customer_tokens.default_ttl_s must be <= max_ttl_s")
        return self


class GatewaySettings(BaseModel):
    """API keys, rate limits, budgets, provider routing, request log, metrics, traces."""

    auth: Literal["auto", "on", "off"] = Field(
        "auto", description="auto: on unless the server binds a loopback address."
    )
    db_path: Path | None = Field(
        None, description="Keys, spend and request log (default <data_dir>/gateway.sqlite3)."
    )
    budget_period: Literal["day", "month"] = Field(
        "month", description="Tenant and key budgets reset every day or calendar month (UTC)."
    )
    providers: list[ProviderSettings] = Field(
        default_factory=list, description="Besides 'local', the engine of `switchboard serve`."
    )
    routes: dict[str, RouteSettings] = Field(
        default_factory=dict, description="Model aliases; served model names go to 'local'."
    )
    prices: dict[str, Price] = Field(
        default_factory=dict, description="By the model name a provider serves."
    )
    limits: LimitSettings = Field(default_factory=LimitSettings)
    customer_tokens: CustomerTokenSettings = Field(default_factory=CustomerTokenSettings)
    log: RequestLogSettings = Field(default_factory=RequestLogSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    guard: bool = Field(True, description="Apply the guardrails (settings.guard) to chat.")
    cache: bool = Field(True, description="Use the response cache (settings.cache) for chat.")

    @model_validator(mode="after")
    def _check_routes(self) -> GatewaySettings:
        names = [p.name for p in self.providers]
        if len(set(names)) != len(names):
            raise ValueError("provider names must be unique")
        known = {"local", *names}
        for alias, route in self.routes.items():
            for target in route.targets:
                if target.provider not in known:
                    raise ValueError(f"route {alias!r} names unknown provider {target.provider!r}")
        return self
