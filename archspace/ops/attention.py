"""Ops of the attention family (filled in by its issue)."""
