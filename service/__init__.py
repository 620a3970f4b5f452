"""The service as it runs: the ``licensing`` command line and the background work it wires up.

It sits above the core (``licensing``), ``billing`` and ``api``: it may import any of them, and none of
them imports it."""
