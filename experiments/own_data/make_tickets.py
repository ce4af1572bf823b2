"""Generate the support-ticket dataset of the own-data example: a subject and a body, five intents.

    python experiments/own_data/make_tickets.py   # writes experiments/own_data/tickets/{train,dev}.csv

It stands in for a team's own export: a CSV with its own column names (``subject``,
``body``, ``intent``), string labels, quoted fields holding commas, a byte-order mark
as spreadsheet programs write it. Each ticket names its intent through a phrase of that
intent's vocabulary, but subjects are often vague and bodies mention other topics in
passing, said to be settled ("..., but that is solved now, ...", "... is not the problem"),
so which intent is meant takes the connectives and the word order, not one keyword; and
the classes are not equally frequent.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

INTENTS = {
    "billing": [
        "I was charged twice",
        "the invoice amount is wrong",
        "my card was billed again",
        "there is an extra fee on my bill",
    ],
    "login": [
        "I cannot sign in",
        "the password reset link does not work",
        "my account is locked",
        "two-factor codes never arrive",
    ],
    "shipping": [
        "my parcel has not arrived",
        "the tracking number shows nothing",
        "the courier left it at the wrong address",
        "delivery is a week late",
    ],
    "refund": [
        "I want my money back",
        "the refund has not reached my account",
        "please return the payment for the broken item",
        "I sent the item back, where is my refund",
    ],
    "cancellation": [
        "please cancel my subscription",
        "I want to close my account",
        "stop the renewal next month",
        "end my plan, I no longer need it",
    ],
}
WEIGHTS = {"billing": 3, "login": 3, "shipping": 2, "refund": 1.5, "cancellation": 1}
SUBJECTS = {
    "billing": ["Invoice", "Charge", "Payment question"],
    "login": ["Account access", "Password", "Sign-in problem"],
    "shipping": ["Order status", "Parcel", "Delivery"],
    "refund": ["Refund", "Return", "Money back"],
    "cancellation": ["Cancel", "Subscription", "Closing my account"],
}
VAGUE = ["Help", "Urgent", "Question", "Problem with my order", "Hello"]
CLOSINGS = ["Thanks.", "Please help, thanks", "Regards, a customer", "", "This is the second time I write."]


def ticket(rng: random.Random) -> tuple[str, str, str]:
    intent = rng.choices(list(INTENTS), weights=[WEIGHTS[i] for i in INTENTS])[0]
    subject = rng.choice(VAGUE) if rng.random() < 0.4 else rng.choice(SUBJECTS[intent])
    body = rng.choice(INTENTS[intent])
    if rng.random() < 0.5:  # another intent's words, said to be settled: which one is meant takes the connectives
        other = rng.choice(INTENTS[rng.choice([i for i in INTENTS if i != intent])])
        if rng.random() < 0.5:
            body = f"{other}, but that is solved now, {body[0].lower()}{body[1:]}"
        else:
            body = f"{body}; {other[0].lower()}{other[1:]} was last month and is not the problem"
    body = f"Hi, {body}. {rng.choice(CLOSINGS)}".strip()
    return subject, body, intent


def write(path: Path, count: int, seed: int) -> None:
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["subject", "body", "intent"])
        writer.writerows(ticket(rng) for _ in range(count))


def main() -> None:
    here = Path(__file__).resolve().parent / "tickets"
    write(here / "train.csv", 1600, seed=1)
    write(here / "dev.csv", 400, seed=2)
    print(here)


if __name__ == "__main__":
    main()
