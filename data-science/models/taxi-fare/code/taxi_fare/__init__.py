"""Regression of a green-taxi trip's cost from its distance, places and times."""
