"""The code of the credit-default model: hooks that config/model.yaml names."""
