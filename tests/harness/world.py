"""The small generated world every package's tests share (the ``world`` fixture of
``tests/conftest.py``): small, but long enough for every scheme to run from the victims to
the cash-outs."""

SMALL = {"txs": 20_000, "days": 16, "seed": 11}
