"""The customer-support assistant: orchestrator stages."""
