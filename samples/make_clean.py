"""Generate `samples/sensor_readings.csv`: clean numeric data with a known correlation structure.

    uv run python samples/make_clean.py            # rewrites samples/sensor_readings.csv

Each reading is a fixed linear combination of independent standard normals (`LOADINGS`), so the
population correlation of two columns is the dot product of their unit-length loading rows —
known exactly, for tests and for checking Step 3 by eye:

    r(temperature, power) = 0.8      r(temperature, pressure) = -0.6
    r(temperature, vibration) = 0.3  r(power, vibration) = 0.48   r(power, pressure) = -0.48
    humidity is independent of everything.

`output_units = 100 + 4·z(power) − 3·z(vibration) + noise(sd 1)`: a target with population
R² = 13.48 / 14.48 ≈ 0.931 for a linear model. No missing values, no duplicates.
Only element-wise arithmetic is used (no BLAS reductions), so the bytes are the same everywhere.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
from pathlib import Path

import numpy as np

SEED = 314159
N_ROWS = 1000
DEFAULT_OUT = Path(__file__).resolve().parent / "sensor_readings.csv"

# column: (offset, scale, loadings on five independent standard normals z1..z5)
LOADINGS: dict[str, tuple[float, float, tuple[float, ...]]] = {
    "temperature_c": (20.0, 5.0, (1.0, 0.0, 0.0, 0.0, 0.0)),
    "power_kw": (150.0, 30.0, (0.8, 0.6, 0.0, 0.0, 0.0)),
    "pressure_kpa": (101.3, 1.2, (-0.6, 0.0, 0.8, 0.0, 0.0)),
    "vibration_mm_s": (2.0, 0.5, (0.3, 0.4, 0.0, math.sqrt(0.75), 0.0)),
    "humidity_pct": (45.0, 10.0, (0.0, 0.0, 0.0, 0.0, 1.0)),
}
TARGET = "output_units"
TARGET_WEIGHTS = {"power_kw": 4.0, "vibration_mm_s": -3.0}
TARGET_OFFSET = 100.0


def standardised_columns(seed: int = SEED) -> dict[str, np.ndarray]:
    """Each column's unit-variance latent value z (before offset and scale), plus noise."""
    rng = np.random.default_rng(seed)
    factors = [rng.standard_normal(N_ROWS) for _ in range(5)]
    columns = {}
    for name, (_, _, weights) in LOADINGS.items():
        z = np.zeros(N_ROWS)
        for weight, factor in zip(weights, factors, strict=True):
            z = z + weight * factor
        columns[name] = z
    columns["noise"] = rng.standard_normal(N_ROWS)
    return columns


def clean_csv(seed: int = SEED) -> bytes:
    """The whole file as bytes, three decimals per reading, `\\n` line ends."""
    z = standardised_columns(seed)
    target = TARGET_OFFSET + z["noise"]
    for name, weight in TARGET_WEIGHTS.items():
        target = target + weight * z[name]
    table = {name: offset + scale * z[name] for name, (offset, scale, _) in LOADINGS.items()}
    table[TARGET] = target
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table)
    for i in range(N_ROWS):
        writer.writerow(f"{float(values[i]):.3f}" for values in table.values())
    return buffer.getvalue().encode("utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the seeded clean sensor sample.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    args.out.write_bytes(clean_csv())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
