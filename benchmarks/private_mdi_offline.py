"""privateMDI ``offline(2000)`` for the digits MLP (K = 2, default 3072-bit Paillier key): time, traffic,
storage per inference, peak memory. Run under ``/usr/bin/time -v`` for the peak RSS of the process (all
parties in one process: the edges' stored material dominates). Usage:
``/usr/bin/time -v python benchmarks/private_mdi_offline.py [N]``."""

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import resource  # noqa: E402
import time  # noqa: E402

from private_mdi import Model, PrivateInference  # noqa: E402
from private_mdi.examples.train_digits import DATA_DIR, digits_split  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
model = Model.load(DATA_DIR / "digits_mlp.npz")
x_tr, x_te, _, y_te = digits_split()
t0 = time.perf_counter()
with PrivateInference(model, edges=2, input_bound=(0.0, 1.0), progress=False) as pi:
    t1 = time.perf_counter()
    pi.offline(N)
    t2 = time.perf_counter()
    rep = pi.report
    print(
        f"construction {t1 - t0:.1f} s; offline({N}, incl. setup and key generation) {t2 - t1:.1f} s "
        f"({(t2 - t1) / N * 1e3:.1f} ms/inference)"
    )
    print("storage per inference", rep.storage_per_inference_bytes)
    print("offline bytes", {k: v for k, v in rep.bytes_by_phase().items()})
    x = x_te[: min(100, N)]
    ok = (pi.predict_raw(x) == pi.reference_raw(x)).all()
    print(f"bit-exact on {len(x)} test images after offline({N}): {bool(ok)}; available {pi.available}")
print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
