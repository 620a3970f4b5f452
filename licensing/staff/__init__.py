"""The sales console's people (SPEC 5, Console): staff members added by the operator, their sign-in by
an e-mailed single-use link, and their sessions."""
