"""The code of the parcel-delay model: hooks that config/model.yaml names."""
