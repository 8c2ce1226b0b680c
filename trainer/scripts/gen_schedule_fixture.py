"""Golden loss weights of the official SA-DVAE code's schedule.

Evaluates, for every step i of a 3-epoch run of n steps per epoch, the
expressions of pha123661/SA-DVAE at 90d99b8, train.py lines 107-135, as its
shipped scripts run them (no --beta_x / --beta_y), with Python's own float
arithmetic:

    cr       = int(0.8 * n)
    kl_x     = max(0.1 * (i - (n / 1700 * 1000)) / (n / 1700 * 3000), 0)
    kl_y_tc  = max(0.1 * (i - cr) / (n / 1700 * 3000), 0) * (epoch > 1)
    cross    = 1 * (i > cr)

and writes trainer/tests/fixtures/sadvae/official_schedule.csv (floats as
repr, exact). Plain Python, no packages:

    python3 trainer/scripts/gen_schedule_fixture.py
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "sadvae", "official_schedule.csv")
# The demo's 21 steps per epoch, a small odd size, and NTU-60 55/5 at batch 32.
STEPS_PER_EPOCH = [21, 7, 1129]


def main():
    rows = ["steps,epoch,step,kl_x,kl_y_tc,cross"]
    for n in STEPS_PER_EPOCH:
        cr = int(0.8 * n)
        for epoch in range(3):
            for i in range(n):
                kl_x = max((0.1 * (i - (n / 1700 * 1000)) / (n / 1700 * 3000)), 0)
                kl_y = max((0.1 * (i - cr) / (n / 1700 * 3000)), 0) * (epoch > 1)
                cross = 1 * (i > cr)
                rows.append(f"{n},{epoch},{i},{float(kl_x)!r},{float(kl_y)!r},{cross}")
    with open(OUT, "w") as f:
        f.write("\n".join(rows) + "\n")
    print("wrote", os.path.normpath(OUT), len(rows) - 1, "rows")


if __name__ == "__main__":
    main()
