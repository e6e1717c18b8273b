"""Ops of the dmixer family (filled in by its issue)."""
