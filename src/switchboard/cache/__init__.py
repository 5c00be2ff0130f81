"""Response cache: exact and semantic, scoped by tenant, model, system prompt and KB version."""
