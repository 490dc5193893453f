"""In-memory network (cmpc.net.memory): the per-peer inbox bound."""

from __future__ import annotations

import pytest

from cmpc.errors import ParameterError, TransportError
from cmpc.net.memory import MemoryNetwork


def test_inbox_bound_cuts_the_flooding_peer_only():
    net = MemoryNetwork(["a", "b", "c"], max_inbox=100)
    ta, tb, tc = (net.transport(p) for p in "abc")
    ta.send("c", bytes(60))
    tb.send("c", bytes(60))  # another sender has its own budget
    with pytest.raises(TransportError, match="max_inbox=100") as info:
        ta.send("c", bytes(60))
    assert info.value.peer == "c"
    assert tc.recv(timeout=1) == ("a", bytes(60))
    assert tc.recv(timeout=1) == ("b", bytes(60))
    with pytest.raises(TransportError, match="inbox from a") as got:
        tc.recv(timeout=1)
    assert got.value.peer == "a"
    with pytest.raises(TransportError):
        ta.send("c", b"x")  # the pair stays cut
    tb.send("c", bytes(90))
    assert tc.recv(timeout=1) == ("b", bytes(90))


def test_reading_frees_the_budget():
    net = MemoryNetwork(["a", "b"], max_inbox=100)
    ta, tb = net.transport("a"), net.transport("b")
    for _ in range(10):
        ta.send("b", bytes(80))
        assert tb.recv(timeout=1)[1] == bytes(80)


@pytest.mark.parametrize("bad", [0, -5, 1.5, True])
def test_bad_bound_is_refused(bad):
    with pytest.raises(ParameterError, match="max_inbox"):
        MemoryNetwork(["a"], max_inbox=bad)
