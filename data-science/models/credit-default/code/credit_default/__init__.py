"""Probability that a credit-card client defaults on next month's payment."""
