"""lottery: find winning lottery tickets (Frankle & Carbin, ICLR 2019)."""

import os

# Idle OpenMP threads sleep instead of spinning. On a machine whose cores are busy with other work,
# spinning threads made two-thread training ~10x slower than one thread (measured: 8 vs 120 it/s for
# LeNet); sleeping ones cost nothing there. Only takes effect when set before torch is imported,
# and never overrides the user's own setting.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Tensors of 2 MB and more are allocated on transparent huge pages. Drawing a batch gathers rows
# scattered over the whole training set (172 MB for MNIST), a TLB miss per row with 4 KB pages:
# 5-8% faster LeNet training (benchmarks/lenet_breakdown.py, 2-core Xeon, 1 thread, K=8, THP_MEM_ALLOC_ENABLE=0 vs 1).
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

__version__ = "0.1.0"
