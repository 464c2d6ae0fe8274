"""Train, evaluate, register, deploy and monitor many models the same way."""

__version__ = "0.1.0"
