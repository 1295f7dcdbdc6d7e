"""What ``import lottery`` sets for speed, and that it never overrides the user's own settings."""

import os
import subprocess
import sys

SPEED_VARIABLES = ("OMP_WAIT_POLICY", "THP_MEM_ALLOC_ENABLE")
PRINT_THEM = f"import os, lottery; print(*(os.environ[v] for v in {SPEED_VARIABLES!r}))"


def run_with(**overrides) -> str:
    env = {k: v for k, v in os.environ.items() if k not in SPEED_VARIABLES} | overrides
    done = subprocess.run([sys.executable, "-c", PRINT_THEM], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_import_sets_passive_openmp_threads_and_huge_page_allocation():
    assert run_with() == "PASSIVE 1"


def test_import_keeps_the_users_own_settings():
    assert run_with(OMP_WAIT_POLICY="ACTIVE", THP_MEM_ALLOC_ENABLE="0") == "ACTIVE 0"
