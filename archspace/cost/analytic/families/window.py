"""Closed-form costs of the window family (filled in by its issue)."""
