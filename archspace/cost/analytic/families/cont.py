"""Closed-form costs of the cont family (filled in by its issue)."""
