"""Leads (SPEC section 1, "Leads"): every self-serve request and contact request, by organisation, each
organisation with a sales owner routed by the catalog's ``[sales.routing]``, who is mailed every new lead."""
