"""``make demo``: the main job on built-in defaults.

1. The worker-count comparison of the CMPC codes for s = t = 2, z = 1..8 (when :mod:`cmpc.codes` is present).
2. One secure AᵀB with AGE in the in-memory simulation (when :mod:`cmpc.protocol` is present).
3. The privateMDI digits demo (when :mod:`private_mdi.cli` is present).
Falls back to a field-core demo (exact matmul at p = 2^31 − 1 against Python integers).
"""

from __future__ import annotations

import importlib.util
import time

import numpy as np

from .field import PrimeField
from .rand import RandomSource


def _have(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def field_demo() -> None:
    F = PrimeField(2**31 - 1)
    rng = RandomSource(seed=2026)
    a = F.random((256, 256), rng=rng)
    b = F.random((256, 256), rng=rng)
    t = time.perf_counter()
    c = F.matmul(a, b)
    dt = time.perf_counter() - t
    ref = (np.asarray(a).astype(object)[:4] @ np.asarray(b).astype(object)) % F.p
    ok = bool((np.asarray(c)[:4].astype(object) == ref).all())
    print(f"== field core: 256x256 matmul over GF(2^31-1) in {dt * 1e3:.1f} ms, "
          f"exact vs Python integers: {ok}  [{F.matmul_plan(256).describe()}]")


def main() -> int:
    field_demo()
    if _have("cmpc.commands.workers"):
        from .cli import main as cli_main

        print("\n== workers needed per code, s = t = 2 (cmpc workers --s 2 --t 2 --z 1-8)")
        cli_main(["workers", "--s", "2", "--t", "2", "--z", "1-8"])
    if _have("cmpc.protocol"):
        from .cli import main as cli_main

        print("\n== one secure AᵀB, AGE s = t = 2, z = 2, m = 256 (cmpc bench, in-memory simulation)")
        cli_main(["bench", "--code", "age", "--s", "2", "--t", "2", "--z", "2", "--m", "256"])
    if _have("private_mdi.cli"):
        from private_mdi.cli import main as mdi_main

        print("\n== privateMDI digits demo (private-mdi demo --edges 2 --model mlp --n 20)")
        mdi_main(["demo", "--edges", "2", "--model", "mlp", "--n", "20"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
