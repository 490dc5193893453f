"""cmpc.allocator: the process-wide mallopt setting of warm benchmarks (values never change)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from cmpc.errors import ParameterError


def test_retain_freed_memory_applies_on_glibc_and_checks_its_limit():
    # in a child process: the setting is process-wide and cannot be undone
    code = (
        "import resource, numpy as np\n"
        "from cmpc.allocator import retain_freed_memory\n"
        "ok = retain_freed_memory(1 << 28)\n"
        "for _ in range(3):\n"
        "    a = np.ones(4 << 20); del a\n"
        "r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "for _ in range(5):\n"
        "    a = np.ones(4 << 20); del a\n"
        "print(ok, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    out = proc.stdout.split()
    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert out[0] == str(glibc)
    if glibc:
        # five 32 MiB arrays after warm-up: reused heap memory (0 faults measured; with glibc's defaults
        # 2640, some of them huge pages)
        assert int(out[1]) < 200


@pytest.mark.parametrize("bad", [0, 1 << 41, 2.0, True])
def test_retain_freed_memory_rejects_bad_limits(bad):
    from cmpc.allocator import retain_freed_memory

    with pytest.raises(ParameterError, match="limit"):
        retain_freed_memory(bad)
