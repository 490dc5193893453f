"""``make demo`` (``python examples/demo.py``): the main job on built-in defaults.

An example on top of both packages (``cmpc`` itself never imports ``private_mdi``):

1. The worker-count comparison of the CMPC codes for s = t = 2, z = 1..8 (when :mod:`cmpc.codes` is present).
2. One secure AᵀB with AGE, every party its own mutual-TLS endpoint on loopback (``cmpc run --local``).
3. The privateMDI digits demo (when :mod:`private_mdi.cli` is present).
Falls back to a field-core demo (exact matmul at p = 2^31 − 1 against Python integers).
"""

from __future__ import annotations

import importlib.util
import time

import numpy as np

from cmpc.field import PrimeField
from cmpc.rand import RandomSource


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
        from cmpc.cli import main as cli_main

        print("\n== workers needed per code, s = t = 2 (cmpc workers --s 2 --t 2 --z 1-8)", flush=True)
        cli_main(["workers", "--s", "2", "--t", "2", "--z", "1-8"])
    if _have("cmpc.commands.run"):
        from cmpc.cli import main as cli_main

        print("\n== secure A^T B with AGE (s = t = 2, z = 2, m = 256): every party its own TLS "
              "endpoint, one process per core, on loopback (cmpc run --local)", flush=True)
        status = cli_main(["run", "--local", "--code", "age", "--s", "2", "--t", "2", "--z", "2",
                           "--m", "256"])
        if status:
            return status
    if _have("private_mdi.cli"):
        from private_mdi.cli import main as mdi_main

        print("\n== privateMDI digits demo (private-mdi demo --edges 2 --model mlp --n 100)", flush=True)
        status = mdi_main(["demo", "--edges", "2", "--model", "mlp", "--n", "100", "--no-progress"])
        if status:
            return status
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
