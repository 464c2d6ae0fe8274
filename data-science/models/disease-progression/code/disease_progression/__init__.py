"""The code of the disease-progression model: hooks that config/model.yaml names."""
