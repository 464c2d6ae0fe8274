"""The code of the taxi-fare model: hooks that config/model.yaml names."""
