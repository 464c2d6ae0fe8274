"""The code of the breast-cancer model: hooks that config/model.yaml names."""
