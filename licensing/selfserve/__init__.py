"""What the public does alone: trials and free licenses confirmed by e-mail, and the customer portal."""
