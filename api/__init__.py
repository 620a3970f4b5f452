"""The HTTP API and pages: translates HTTP to calls of the licensing core and back."""
