"""Closed-form costs of the dmixer family (filled in by its issue)."""
