"""The names of what a training run logs beside its model and what the register step writes: every
room that reads a version's artifacts (the card, the Azure submission, the register step) takes them
from here."""

# what the step writes to its --output folder: the version and the gate's verdict, for the submission
REGISTRATION_FILE = "registration.json"
# the folder of the run's artifacts that holds the model: the version's source is runs:/<run_id>/model
MODEL_ARTIFACT_PATH = "model"
# the run's folder of what evaluate found (evaluation.json, without chart data) and the comparison report
EVALUATION_ARTIFACT_PATH = "evaluation"
EVALUATION_FILE = "evaluation.json"
COMPARISON_FILE = "comparison.html"
# the split's seed, sizes and data fingerprint, logged with the run
SPLIT_FILE = "split.json"
# the whole resolved config, logged with the run; the version's config tag names it
CONFIG_FILE = "config.yaml"
# the run's folder of the card written at registration
CARD_ARTIFACT_PATH = "card"
