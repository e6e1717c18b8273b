"""Ops of the cont family (filled in by its issue)."""
