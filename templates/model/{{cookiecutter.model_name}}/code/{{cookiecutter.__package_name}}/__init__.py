"""The code of the {{ cookiecutter.model_name }} model: hooks that config/model.yaml names."""
