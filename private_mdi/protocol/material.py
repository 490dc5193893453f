"""Single-use stores of offline material: taking an entry twice is :class:`MaterialReusedError`.

Every piece of offline material (the client's r_1 and a_L; an edge's s_ℓ, b-wire keys, garbled ReLU and
client labels) belongs to exactly one inference and is removed when used. A store remembers what was
taken, so a replayed message gets "already used" rather than "missing", and refuses material that arrives
twice (:class:`~cmpc.errors.ProtocolError`).
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from cmpc.errors import ProtocolError

from ..errors import MaterialReusedError

__all__ = ["MaterialStore"]

K = TypeVar("K")


class MaterialStore(Generic[K]):
    """``key → value`` entries, each taken at most once; ``nbytes`` counts what is held per inference."""

    def __init__(self, owner: str, what: str) -> None:
        self.owner, self.what = owner, what
        self._items: dict[K, Any] = {}
        self._used: set[K] = set()

    def put(self, key: K, value: Any) -> None:
        if key in self._items or key in self._used:
            raise ProtocolError(f"{self.owner}: {self.what} for {key} sent twice")
        self._items[key] = value

    def take(self, key: K) -> Any:
        """Remove and return the entry; :class:`MaterialReusedError` if it was used or never stored."""
        if key in self._used:
            raise MaterialReusedError(f"{self.owner}: {self.what} of {key} was already used (single use)")
        if key not in self._items:
            raise MaterialReusedError(f"{self.owner}: no {self.what} for {key}: run offline() first")
        self._used.add(key)
        return self._items.pop(key)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def keys(self) -> list[K]:
        return sorted(self._items)  # type: ignore[type-var]
