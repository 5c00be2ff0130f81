"""Guardrails: PII, prompt injection and toxicity on input and on streamed output."""
