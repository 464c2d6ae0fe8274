"""Local online endpoints with Azure ML managed-online-endpoint contracts: key auth (``keys``), traffic
split across deployments and the server processes (``endpoints``), the server itself (``app``) and data
collection (``collector``). The commands are ``mlops.cli.serving``."""

__all__ = ["app", "collector", "endpoints", "keys"]
