"""The ground floor every package stands on: errors and refused writes, the console, JSON,
whole-or-nothing writes, file locks, where things live and the rules of a config's numeric settings. It
imports nothing of ``mlops`` above it."""

__all__ = ["atomic", "console", "errors", "jsonio", "locks", "project", "refusals", "settings"]
