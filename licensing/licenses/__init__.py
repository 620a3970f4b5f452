"""The catalog, customers and organisations, issuing, revoking and refreshing licenses, and license status."""
