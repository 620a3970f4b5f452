"""Stripe billing: checkout, webhooks and reconciliation (to come; see SPEC section 6)."""
