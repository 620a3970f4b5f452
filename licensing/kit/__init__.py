"""The service's infrastructure, which imports nothing else of the service: settings, the database and the
one clock, errors, field limits, logs, tokens and job queues."""
