"""Fuzzing of the untrusted files not covered elsewhere: session.json, keys and certificates, the privateMDI
session spec. Random and mutated inputs give a named error of the package hierarchy (or a valid object),
never another exception, within a time bound."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cmpc import PrimeField, RandomSource, codes
from cmpc.errors import CMPCError
from cmpc.net.tls import load_credentials, write_keys
from cmpc.protocol import Session

FUZZ = settings(max_examples=120, deadline=3000, suppress_health_check=[HealthCheck.function_scoped_fixture])

_SESSION = Session.create(codes.make("polydot", s=2, t=2, z=2), PrimeField(65521), (8, 8), (8, 8),
                          rng=RandomSource(seed=1)).to_json()


def _load_session(text: str) -> None:
    try:
        Session.from_json(text)
    except CMPCError:
        pass


@FUZZ
@given(st.text(max_size=300))
def test_session_json_random_text(text: str) -> None:
    _load_session(text)


def _mutate(obj: object, path: list[int], value: object) -> object:
    """Replace one leaf of a JSON value (chosen by ``path`` indices) with ``value``."""
    if isinstance(obj, dict) and obj:
        keys = sorted(obj)
        k = keys[path[0] % len(keys)] if path else keys[0]
        out = dict(obj)
        out[k] = _mutate(obj[k], path[1:], value) if path[1:] else value
        return out
    if isinstance(obj, list) and obj:
        i = path[0] % len(obj) if path else 0
        out_l = list(obj)
        out_l[i] = _mutate(obj[i], path[1:], value) if path[1:] else value
        return out_l
    return value


@FUZZ
@given(
    st.lists(st.integers(0, 50), min_size=1, max_size=4),
    st.one_of(st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.text(max_size=5), st.none(),
              st.booleans(), st.lists(st.integers(0, 10), max_size=3)),
)
def test_session_json_mutated_leaves(path: list[int], value: object) -> None:
    _load_session(json.dumps(_mutate(json.loads(_SESSION), path, value)))


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(write_keys(tmp_path_factory.mktemp("keys"), ["alice", "bob"]))


@FUZZ
@given(which=st.sampled_from(["ca.pem", "alice.pem", "alice.key"]), data=st.binary(max_size=600),
       keep=st.integers(0, 2000))
def test_credentials_random_or_truncated_files(keys_dir: Path, tmp_path_factory: pytest.TempPathFactory,
                                                which: str, data: bytes, keep: int) -> None:
    work = tmp_path_factory.mktemp("fuzzkeys")
    for f in keys_dir.iterdir():
        shutil.copy2(f, work / f.name)
    target = work / which
    original = target.read_bytes()
    target.write_bytes(original[:keep] + data if data else original[:keep])
    os.chmod(target, 0o600)
    try:
        load_credentials(work, "alice")
    except CMPCError:
        pass


@FUZZ
@given(st.text(max_size=300))
def test_private_mdi_spec_random_text(text: str) -> None:
    from private_mdi.protocol.spec import SessionSpec

    try:
        SessionSpec.from_json(text)
    except CMPCError:
        pass
