"""Make the shop's raw data for the sample factory: 60 days of orders with five known faults.

Deterministic: the same script writes the same bytes (a fixed seed, numbers formatted by hand).
Run it from anywhere: ``python make_data.py [--out DIR]`` (default: ``data/raw`` beside it).

What a normal day looks like: about 320 orders on a weekday and 390 on a Saturday or Sunday,
with day-to-day noise; a basket of about 56 on average; about 3 % of orders without a customer
id (guest checkouts); the day's file lands around 01:00-02:30 the next morning, before the
pipeline's 06:00 run.

The faults, on known days (``FAULTS``), are what the pipeline's data tests and SPC lines catch.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
from pathlib import Path

import numpy as np

SEED = 20260904
FIRST_DAY = dt.date(2026, 9, 1)
DAYS = 60
DUE_HOUR = 6  # the pipeline runs at 06:00 for the day before; a file landing later is late

# day -> (fault, what happened), in plain words; tests and the demo's summary read this table.
FAULTS: dict[str, tuple[str, str]] = {
    "2026-10-06": (
        "half_empty",
        "the export stopped half-way: the file holds half the day's orders",
    ),
    "2026-10-14": ("duplicated_load", "the day's orders were loaded twice into the file"),
    "2026-10-20": ("basket_shift", "prices were exported in the wrong currency (x1.25)"),
    "2026-10-21": ("basket_shift", "prices were exported in the wrong currency (x1.25)"),
    "2026-10-22": ("basket_shift", "prices were exported in the wrong currency (x1.25)"),
    "2026-10-27": ("late_file", "the file landed at 13:42, after the 06:00 run was due"),
    "2026-10-16": (
        "weekend_volume",
        "a Friday's file holds a weekend's volume of orders (about 390, not 320)",
    ),
}
WEEKEND_SHARE = 390 / 320  # a weekend_volume day: this many times its weekday orders

CHANNELS = ("web", "app", "store")
CHANNEL_P = (0.55, 0.35, 0.10)
STATUSES = ("paid", "shipped", "cancelled", "refunded")
STATUS_P = (0.80, 0.15, 0.03, 0.02)
GUEST_RATE = 0.03


def days() -> list[dt.date]:
    """The 60 business days of the sample, oldest first."""
    return [FIRST_DAY + dt.timedelta(days=i) for i in range(DAYS)]


def products(rng: np.random.Generator) -> list[tuple[str, str, float]]:
    """The catalogue: 40 products with a category and a unit price."""
    categories = ("books", "games", "kitchen", "garden", "toys")
    rows = []
    for i in range(40):
        price = float(np.round(np.exp(rng.normal(3.3, 0.55)), 2))
        rows.append((f"P{i + 1:03d}", categories[i % len(categories)], price))
    return rows


def day_orders(
    rng: np.random.Generator,
    day: dt.date,
    catalogue: list[tuple[str, str, float]],
    price_factor: float = 1.0,
) -> list[list[str]]:
    """One day's orders as CSV rows (text), sorted by time."""
    weekend = day.weekday() >= 5
    expected = (390 if weekend else 320) * float(np.exp(rng.normal(0.0, 0.03)))
    n = int(rng.poisson(expected))
    seconds = np.sort(rng.integers(0, 86_400, size=n))
    product_idx = rng.integers(0, len(catalogue), size=n)
    quantity = np.minimum(rng.geometric(0.62, size=n), 5)
    guest = rng.random(n) < GUEST_RATE
    customers = rng.integers(1, 20_000, size=n)
    channel = rng.choice(len(CHANNELS), size=n, p=CHANNEL_P)
    status = rng.choice(len(STATUSES), size=n, p=STATUS_P)
    start = dt.datetime.combine(day, dt.time())
    rows = []
    for i in range(n):
        pid, _, price = catalogue[product_idx[i]]
        unit = round(price * price_factor, 2)
        created = start + dt.timedelta(seconds=int(seconds[i]))
        rows.append(
            [
                f"O{day:%Y%m%d}-{i + 1:05d}",
                created.strftime("%Y-%m-%dT%H:%M:%S"),
                "" if guest[i] else f"C{customers[i]:05d}",
                pid,
                str(int(quantity[i])),
                f"{unit:.2f}",
                f"{unit * int(quantity[i]):.2f}",
                STATUSES[status[i]],
                CHANNELS[channel[i]],
            ]
        )
    return rows


def weekend_volume(
    rows: list[list[str]], day: dt.date, catalogue: list[tuple[str, str, float]]
) -> list[list[str]]:
    """The day's orders plus a weekend's extra share, drawn from a generator of their own (the
    other days' data stays byte for byte the same), re-sorted by time and renumbered."""
    rng = np.random.default_rng([SEED, day.toordinal()])
    more = day_orders(rng, day, catalogue)
    k = round(len(rows) * (WEEKEND_SHARE - 1))
    picked = [more[i] for i in sorted(rng.choice(len(more), size=k, replace=False))]
    out = sorted(rows + picked, key=lambda r: r[1])
    for i, row in enumerate(out):
        row[0] = f"O{day:%Y%m%d}-{i + 1:05d}"
    return out


HEADER = [
    "order_id",
    "created_at",
    "customer_id",
    "product_id",
    "quantity",
    "unit_price",
    "amount",
    "status",
    "channel",
]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def make(out: Path) -> list[Path]:
    """Write products.csv, one orders_<day>.csv per day and landing_log.csv into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    catalogue = products(rng)
    written = [out / "products.csv"]
    write_csv(
        written[0],
        ["product_id", "category", "unit_price"],
        [[p, c, f"{price:.2f}"] for p, c, price in catalogue],
    )
    landing = []
    for day in days():
        fault = FAULTS.get(day.isoformat(), ("", ""))[0]
        rows = day_orders(rng, day, catalogue, 1.25 if fault == "basket_shift" else 1.0)
        if fault == "half_empty":
            rows = rows[: len(rows) // 2]
        elif fault == "duplicated_load":
            rows = rows + rows
        elif fault == "weekend_volume":
            rows = weekend_volume(rows, day, catalogue)
        path = out / f"orders_{day}.csv"
        write_csv(path, HEADER, rows)
        written.append(path)
        landed = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(1, 0)) + dt.timedelta(
            minutes=int(rng.integers(0, 90))
        )
        if fault == "late_file":
            landed = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(13, 42))
        landing.append([path.name, landed.strftime("%Y-%m-%dT%H:%M:%S")])
    written.append(out / "landing_log.csv")
    write_csv(written[-1], ["file", "landed_at"], landing)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "data" / "raw",
        help="folder to write the raw files into (default: data/raw beside this script)",
    )
    args = parser.parse_args()
    files = make(args.out)
    print(f"wrote {len(files)} files to {args.out}")


if __name__ == "__main__":
    main()
