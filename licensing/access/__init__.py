"""Who may do what, and what they did: API keys, the audit log, idempotent requests."""
