"""The data hooks of ticket-routing: the tickets that ship in ``data/`` (``read_tickets``, the default),
and the generator they were made with (``generate``).

The tickets are synthetic, not real: each carries a short subject line, the time it was opened, the
customer's tier, the account's age, its attachments and the contact channel, and the queue that
should handle it (``billing``, ``technical`` or ``account``: the target). Subjects mix queue-specific
terms with shared filler and words borrowed from other queues, so the classes overlap and a model
cannot separate them perfectly. ``python code/ticket_routing/data.py`` writes the two files again,
byte for byte: ``data/tickets.csv`` (3,000 tickets, seed 7) and ``data/tickets-batch.csv`` (500
more without the queue, seed 8: the batch-scoring and monitoring example).
"""

from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).resolve().parents[2] / "data"  # data-science/models/ticket-routing/data

QUEUES = ["billing", "technical", "account"]

# Queue shares by customer tier. Premium customers open billing tickets more
# often; the standard-tier shares are set so that the overall mix, with 25%
# premium customers, comes out at about 40/35/25.
PREMIUM_SHARE = 0.25
QUEUE_PROBS = {
    True: [0.48, 0.31, 0.21],
    False: [0.3733, 0.3634, 0.2633],
}

# Terms that point to one queue.
VOCABULARY = {
    "billing": [
        "invoice",
        "refund",
        "charged",
        "payment",
        "card",
        "receipt",
        "billing",
        "subscription",
        "price",
        "overcharged",
        "twice",
        "discount",
        "plan",
        "renewal",
        "bank",
        "transfer",
        "vat",
        "fee",
    ],
    "technical": [
        "error",
        "crash",
        "crashes",
        "login fails",
        "slow",
        "timeout",
        "app",
        "install",
        "update",
        "bug",
        "freezes",
        "blank screen",
        "sync",
        "upload",
        "download",
        "server",
        "broken link",
        "not loading",
    ],
    "account": [
        "password",
        "email change",
        "close account",
        "username",
        "verify",
        "address",
        "profile",
        "delete account",
        "two factor",
        "locked out",
        "phone number",
        "name change",
        "merge accounts",
        "reset",
        "security",
    ],
}

# Words that appear in every queue and carry no signal.
FILLER = [
    "please",
    "help",
    "urgent",
    "issue",
    "problem",
    "question",
    "my",
    "the",
    "with",
    "again",
    "today",
    "since",
    "yesterday",
    "cannot",
    "need",
    "still",
    "not",
    "working",
    "about",
    "request",
    "account",
    "hi",
    "thanks",
    "asap",
    "why",
    "is",
    "this",
    "how",
    "do",
    "i",
    "on",
    "for",
]

# Chance that a subject holds no queue-specific term at all.
VAGUE_SHARE = 0.12
# Chance that each topical term is drawn from a random queue's vocabulary.
BORROW_SHARE = 0.22

# Chance, per queue, that a ticket is opened on a weekend and, separately,
# that it is opened before 08:00 or from 18:00. Technical tickets lean toward
# nights and weekends.
WEEKEND_PROBS = {"billing": 0.18, "technical": 0.42, "account": 0.22}
NIGHT_PROBS = {"billing": 0.15, "technical": 0.45, "account": 0.20}

# Mean number of attachments per queue; technical tickets carry screenshots
# and logs.
ATTACHMENT_MEANS = {"billing": 0.7, "technical": 1.6, "account": 0.4}

CHANNELS = ["email", "chat", "phone"]
CHANNEL_PROBS = {
    "billing": [0.55, 0.20, 0.25],
    "technical": [0.30, 0.55, 0.15],
    "account": [0.40, 0.25, 0.35],
}

# Shares of missing values per column.
MISSING_SHARES = {"subject": 0.03, "opened_at": 0.01, "premium": 0.01}

DAYS = pd.date_range("2026-01-01", "2026-06-30", freq="D")
WEEKDAYS = DAYS[DAYS.day_of_week < 5]
WEEKEND_DAYS = DAYS[DAYS.day_of_week >= 5]
NIGHT_HOURS = list(range(0, 8)) + list(range(18, 24))
COLUMNS = [
    "subject",
    "opened_at",
    "premium",
    "account_age_days",
    "attachments",
    "channel",
    "queue",
]


def _subject(rng: np.random.Generator, queue: str) -> str:
    """Build one subject line of 4 to 14 words for a ticket of ``queue``."""
    n_words = int(rng.integers(4, 15))
    # Topical terms have at most two words, so at most a third of the slots
    # keeps them within ``n_words``; filler words fill up the rest.
    n_topical = 0
    if rng.random() >= VAGUE_SHARE:
        n_topical = int(rng.integers(1, min(3, n_words // 3) + 1))
    parts = []
    for _ in range(n_topical):
        source = queue
        if rng.random() < BORROW_SHARE:
            source = QUEUES[rng.integers(len(QUEUES))]
        parts.append(str(rng.choice(VOCABULARY[source])))
    n_filler = n_words - sum(len(part.split()) for part in parts)
    parts.extend(str(word) for word in rng.choice(FILLER, size=n_filler))
    # Shuffle whole terms so two-word terms such as "locked out" stay intact.
    rng.shuffle(parts)
    return " ".join(parts).capitalize()


def _opened_at(rng: np.random.Generator, queue: str) -> str:
    """Draw an opening timestamp for a ticket of ``queue`` as ISO 8601 text."""
    on_weekend = rng.random() < WEEKEND_PROBS[queue]
    day = rng.choice(WEEKEND_DAYS if on_weekend else WEEKDAYS)
    hour = int(rng.choice(NIGHT_HOURS)) if rng.random() < NIGHT_PROBS[queue] else int(rng.integers(8, 18))
    minute = int(rng.integers(0, 60))
    stamp = pd.Timestamp(day) + pd.Timedelta(hours=hour, minutes=minute)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S")


def generate(n_rows: int = 3000, seed: int = 7) -> pd.DataFrame:
    """Return ``n_rows`` synthetic tickets drawn deterministically from ``seed``."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n_rows):
        premium = bool(rng.random() < PREMIUM_SHARE)
        queue = str(rng.choice(QUEUES, p=QUEUE_PROBS[premium]))
        # Account issues come more often from young accounts.
        scale = 300 if queue == "account" else 900
        age = int(min(rng.exponential(scale), 3650))
        attachments = int(min(rng.poisson(ATTACHMENT_MEANS[queue]), 5))
        rows.append(
            {
                "subject": _subject(rng, queue),
                "opened_at": _opened_at(rng, queue),
                "premium": premium,
                "account_age_days": age,
                "attachments": attachments,
                "channel": str(rng.choice(CHANNELS, p=CHANNEL_PROBS[queue])),
                "queue": queue,
            }
        )
    frame = pd.DataFrame(rows, columns=COLUMNS)
    # Blank out a fixed share of rows in each column that may be missing.
    # Cast to object first so text stays text and premium becomes
    # True/False/NaN.
    for column, share in MISSING_SHARES.items():
        missing = rng.choice(n_rows, size=round(share * n_rows), replace=False)
        frame[column] = frame[column].astype(object)
        frame.loc[missing, column] = np.nan
    return frame


def read_tickets(file: str = "tickets.csv") -> pd.DataFrame:
    """Return the tickets of ``file`` in this model's ``data/`` folder."""
    return pd.read_csv(DATA / file)


if __name__ == "__main__":
    generate(3000, seed=7).to_csv(DATA / "tickets.csv", index=False)
    generate(500, seed=8).drop(columns="queue").to_csv(DATA / "tickets-batch.csv", index=False)
