"""Licensing: signed license files and their offline verifier.

This package is shared by two distributions. ``licensing-verifier`` ships only this file and
``licensing/verify.py``; ``licensing-service`` ships everything. Nothing may be imported here.
"""

__version__ = "0.1.0"
