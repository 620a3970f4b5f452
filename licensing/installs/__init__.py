"""Air-gapped installations (SPEC section 8): activation by file (a line bound to one installation's key),
signed usage reports answered by signed receipts, and the true-ups a report over the seats starts.

Every step works inside the caller's transaction, as issuing does (``@atomic``): the API, the portal and
the tests call them the same way. The files are read by the verifier library's :mod:`licensing.airgap`
(:mod:`licensing.installs.files` adapts what it reads); Stripe is called only by billing's true-up task
(:mod:`billing.trueups`), from the background loop, never inside a request.
"""
