"""Business metrics for the ticket routing model."""

import numpy as np

# Cost of routing one ticket, in relative units of extra handling effort,
# indexed as MISROUTING_COSTS[true_queue][predicted_queue]. A correct route
# costs 0; the costs grow with the delay and hand-offs a wrong queue causes.
# - technical -> billing (8): billing agents cannot troubleshoot, the customer
#   stays blocked and the ticket needs a second hand-off to engineers.
# - technical -> account (5): account agents can try a password reset or an
#   unlock, which solves some login problems, but most still go on.
# - billing -> technical (4): engineers cannot issue refunds, and money
#   questions left waiting raise chargebacks and complaints.
# - billing -> account (3): account agents see the customer record and plan,
#   so they can answer simple cases or forward quickly.
# - account -> billing (3): billing agents can read account details but not
#   change credentials, so the ticket is forwarded.
# - account -> technical (2): engineers can handle resets and lockouts
#   themselves, so little time is lost.
MISROUTING_COSTS = {
    "billing": {"billing": 0.0, "technical": 4.0, "account": 3.0},
    "technical": {"billing": 8.0, "technical": 0.0, "account": 5.0},
    "account": {"billing": 3.0, "technical": 2.0, "account": 0.0},
}


def misrouting_cost(y_true: object, y_pred: object) -> float:
    """Return the mean misrouting cost per ticket from MISROUTING_COSTS.

    ``y_true`` and ``y_pred`` may be lists, numpy arrays or pandas Series of
    queue names of the same length. Raise ValueError when they are empty,
    differ in length or hold a label that is not in the cost matrix.
    """
    true = np.asarray(y_true, dtype=object).ravel()
    pred = np.asarray(y_pred, dtype=object).ravel()
    if len(true) != len(pred):
        raise ValueError(f"y_true and y_pred differ in length: {len(true)} != {len(pred)}")
    if len(true) == 0:
        raise ValueError("y_true and y_pred are empty")
    unknown = (set(true) | set(pred)) - set(MISROUTING_COSTS)
    if unknown:
        names = ", ".join(sorted(repr(label) for label in unknown))
        raise ValueError(f"unknown queue labels: {names}")
    costs = [MISROUTING_COSTS[t][p] for t, p in zip(true, pred, strict=True)]
    return float(np.mean(costs))
