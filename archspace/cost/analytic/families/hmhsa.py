"""Closed-form costs of the hmhsa family (filled in by its issue)."""
