"""Closed-form costs of the dcn family (filled in by its issue)."""
