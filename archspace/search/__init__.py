"""Architecture search: spaces (space.py), and the runner pieces built on them."""
