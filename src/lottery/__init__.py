"""lottery: find winning lottery tickets (Frankle & Carbin, ICLR 2019)."""

import os

# Idle OpenMP threads sleep instead of spinning. On a machine whose cores are busy with other work,
# spinning threads made two-thread training ~10x slower than one thread (measured: 8 vs 120 it/s for
# LeNet); sleeping ones cost nothing there. Only takes effect when set before torch is imported,
# and never overrides the user's own setting.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
