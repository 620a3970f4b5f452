"""The service's infrastructure: settings, database, errors, field limits, logs, tokens, job queues, migrations."""
