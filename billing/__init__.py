"""Stripe billing (SPEC section 6), the one package that knows Stripe.

* :mod:`billing.checkout`: ``create_checkout`` (our checkout row and Stripe's Checkout Session),
  ``fulfil_checkout`` (the one idempotent fulfil step: webhooks, the success page and reconcile) and
  ``sync_subscription``; these two run their own short transactions (they take the runtime), so no
  transaction is open while Stripe answers.
* :mod:`billing.lifecycle`: SPEC 6's table, from a subscription as Stripe says it is now.
* :mod:`billing.webhooks` (intake: verify, store once) and :mod:`billing.events` (processing in the
  background loop); :mod:`billing.reconcile`; :mod:`billing.catalog_sync`.
* :mod:`billing.client`: the SDK client from the settings, and plain snapshots of Stripe's objects.

It reaches licensing through the same calls sales ops use (``issue_license``, ``create_customer``), in
the caller's transaction.
"""
