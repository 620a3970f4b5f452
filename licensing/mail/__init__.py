"""E-mail: the outbox, sending over SMTP, the messages' templates and expiry reminders."""
