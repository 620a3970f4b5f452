"""Signing keys on disk and what they sign (compact JWS in armor)."""
