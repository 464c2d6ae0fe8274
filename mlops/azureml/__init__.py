"""The shared Azure ML definitions (the YAML files here), rendered per model and environment
(``render``), pinned from one lock (``lock``), validated offline with azure-ai-ml's loaders
(``validate``) and submitted through ``MLClient`` (``submit``, ``workspace``, ``credentials``,
``champion``). What runs inside Azure is ``runtime``."""

__all__ = ["champion", "credentials", "lock", "render", "runtime", "submit", "validate", "workspace"]
