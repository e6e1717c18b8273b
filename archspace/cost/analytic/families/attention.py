"""Closed-form costs of the attention family (filled in by its issue)."""
