"""Trained-architecture tables: a search space's architectures trained stand-alone under one protocol (ground truth)."""
