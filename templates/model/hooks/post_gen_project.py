"""After plain ``cookiecutter`` renders a model folder: say how to record where it came from.

``mlops new`` writes the record (``.mlops-template.json``: the template version and these answers)
itself and skips this hook; a folder baked by hand gets it with ``mlops upgrade --adopt``.
"""

print(
    "record the template version this folder came from (for mlops upgrade): "
    "mlops upgrade --adopt {{ cookiecutter.model_name }}"
)
