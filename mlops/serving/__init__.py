"""Local online endpoints with Azure ML managed-online-endpoint contracts: key auth, traffic split across
deployments, the scoring request shapes, data collection, micro-batched scoring."""
