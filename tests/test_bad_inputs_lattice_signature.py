"""Bad-input table for `jaxbd.lattice_signature` (issue 16) and the encoding-range helpers of
`jaxbd.signature` (issue 17): one row per (public function, argument, bad value), the error
naming the argument. The toy key is built once, lazily (key generation runs in the first row
that needs it, not at import).
"""

import functools

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from badinput import Row, check_row, ids
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from jaxbd import lattice_signature as ls, signature as sg
from jaxbd.linear import LinearClassifier


D = ls.min_input_dim("toy", 2)  # 60
NAN = float("nan")
X = np.full((D,), 0.5, np.float32)
L = "jaxbd.lattice_signature."
S = "jaxbd.signature."
P = ls.get_params("toy")


def _lin(d=D):
    return LinearClassifier(jnp.zeros((d,)), jnp.zeros(()))


@functools.cache
def _setup():
    return ls.backdoor(jr.key(0), _lin(), input_dim=D, params="toy")


def bm():
    return _setup()[0]


def bk():
    return _setup()[1]


def enc():
    return bk().encoding


def hmat():
    return np.asarray(bk().public_key.hash_matrix)


def pub():
    return bk().public_key.as_numpy()


def _put(x, i, v):
    x = np.array(x, copy=True)
    x[i] = v
    return x


def _bits(n):
    return np.zeros(n, np.int64)


SKEY = sg.SignatureKey(Ed25519PrivateKey.from_private_bytes(bytes(range(32))),
                       sg.Encoding(64, 1e-2, 9, 2, True))  # fmt: skip


def _bd(**kw):
    args = dict(input_dim=D, params="toy")
    args.update(kw)
    model = args.pop("model", _lin())
    return ls.backdoor(args.pop("key", jr.key(0)), model, **args)


ROWS = [
    # ---------------------------------------------------------------- backdoor
    Row(L + "backdoor", "key", "str", lambda: _bd(key="k"), ("`key`",)),
    Row(L + "backdoor", "model", "str", lambda: _bd(model="m"), ("`model`",)),
    Row(L + "backdoor", "model", "wrong-dim", lambda: _bd(model=_lin(D + 1)), ("`model`",)),
    Row(L + "backdoor", "input_dim", "zero", lambda: _bd(input_dim=0), ("`input_dim`",)),
    Row(L + "backdoor", "input_dim", "too-small", lambda: _bd(model=_lin(8), input_dim=8),
        ("`input_dim`", "toy")),  # fmt: skip
    Row(L + "backdoor", "input_dim", "default-set", lambda: _bd(params=None),
        ("`input_dim`", "default")),  # fmt: skip
    Row(L + "backdoor", "params", "unknown", lambda: _bd(params="nope"), ("`params`",)),
    Row(L + "backdoor", "coarse_bits", "zero", lambda: _bd(coarse_bits=0), ("`coarse_bits`",)),
    Row(L + "backdoor", "coarse_bits", "23", lambda: _bd(coarse_bits=23), ("`coarse_bits`",)),
    # ---------------------------------------------------------------- activate
    Row(L + "activate", "x", "nan", lambda: ls.activate(bk(), _put(X, 0, NAN), 1.0), ("`x`",)),
    Row(L + "activate", "x", "above-1", lambda: ls.activate(bk(), _put(X, 0, 2.0), 1.0),
        ("`x`", "[0, 1]")),  # fmt: skip
    Row(L + "activate", "x", "above-1", mode="jit", words=("`x`", "[0, 1]"),
        call=lambda: jax.jit(lambda v: ls.activate(bk(), v, 1.0))(_put(X, 0, 2.0))),
    Row(L + "activate", "x", "shape", lambda: ls.activate(bk(), X[:-1], 1.0), ("`x`",)),
    Row(L + "activate", "x", "int", lambda: ls.activate(bk(), np.zeros(D, np.int32), 1.0),
        ("`x`",)),  # fmt: skip
    Row(L + "activate", "x", "float16", lambda: ls.activate(bk(), X.astype(np.float16), 1.0),
        ("`x`", "float32")),  # fmt: skip
    Row(L + "activate", "target", "zero", lambda: ls.activate(bk(), X, 0.0), ("`target`",)),
    Row(L + "activate", "backdoor_key", "str", lambda: ls.activate("k", X, 1.0),
        ("`backdoor_key`",)),  # fmt: skip
    # ---------------------------------------------------------------- verify_reference
    Row(L + "verify_reference", "backdoor_key", "str", lambda: ls.verify_reference("k", X),
        ("`backdoor_key`",)),  # fmt: skip
    Row(L + "verify_reference", "x", "shape", lambda: ls.verify_reference(bk(), X[:-1]),
        ("`x`",)),  # fmt: skip
    Row(L + "verify_reference", "x", "str", lambda: ls.verify_reference(bk(), "x"), ("`x`",)),
    # ---------------------------------------------------------------- hash_message
    Row(L + "hash_message", "p", "str", lambda: ls.hash_message("nope", hmat(), _bits(1)),
        ("`p`",)),  # fmt: skip
    Row(L + "hash_message", "hash_matrix", "rows",
        lambda: ls.hash_message(P, hmat()[:1], _bits(hmat().shape[1])), ("`hash_matrix`",)),
    Row(L + "hash_message", "hash_matrix", "float",
        lambda: ls.hash_message(P, hmat() + 0.5, _bits(hmat().shape[1])), ("`hash_matrix`",)),
    Row(L + "hash_message", "v", "length",
        lambda: ls.hash_message(P, hmat(), _bits(hmat().shape[1] - 1)), ("`v`",)),
    Row(L + "hash_message", "v", "not-bits",
        lambda: ls.hash_message(P, hmat(), _bits(hmat().shape[1]) + 2), ("`v`", "bits")),
    # ---------------------------------------------------------------- prepare_message
    Row(L + "prepare_message", "enc", "str", lambda: ls.prepare_message("e", P, hmat(), X, 1),
        ("`enc`",)),  # fmt: skip
    Row(L + "prepare_message", "p", "int", lambda: ls.prepare_message(enc(), 3, hmat(), X, 1),
        ("`p`",)),  # fmt: skip
    Row(L + "prepare_message", "hash_matrix", "columns",
        lambda: ls.prepare_message(enc(), P, hmat()[:, :-1], X, 1), ("`hash_matrix`",)),
    Row(L + "prepare_message", "x", "shape",
        lambda: ls.prepare_message(enc(), P, hmat(), X[:-1], 1), ("`x`",)),
    Row(L + "prepare_message", "x", "above-1",
        lambda: ls.prepare_message(enc(), P, hmat(), _put(X, 0, 2.0), 1), ("`x`", "[0, 1]")),
    Row(L + "prepare_message", "target_index", "too-large",
        lambda: ls.prepare_message(enc(), P, hmat(), X, 2), ("`target_index`",)),
    Row(L + "prepare_message", "target_index", "negative",
        lambda: ls.prepare_message(enc(), P, hmat(), X, -1), ("`target_index`",)),
    # ---------------------------------------------------------------- sizes and parameters
    Row(L + "min_input_dim", "params", "unknown", lambda: ls.min_input_dim("nope"),
        ("`params`",)),  # fmt: skip
    Row(L + "min_input_dim", "num_labels", "one", lambda: ls.min_input_dim("toy", 1),
        ("`num_labels`",)),  # fmt: skip
    Row(L + "min_input_dim", "coarse_bits", "zero",
        lambda: ls.min_input_dim("toy", coarse_bits=0), ("`coarse_bits`",)),
    Row(L + "min_input_dim", "grid_bits", "24", lambda: ls.min_input_dim("toy", grid_bits=24),
        ("`grid_bits`",)),  # fmt: skip
    Row(L + "network_size", "model", "linear", lambda: ls.network_size(_lin()), ("`model`",)),
    Row(L + "verifier_size", "p", "int", lambda: ls.verifier_size(3, enc()), ("`p`",)),
    Row(L + "verifier_size", "enc", "str", lambda: ls.verifier_size(P, "e"), ("`enc`",)),
    Row(L + "get_params", "params", "unknown", lambda: ls.get_params("nope"), ("`params`",)),
    Row(L + "get_params", "params", "int", lambda: ls.get_params(3), ("`params`",)),
    Row(L + "public_key_distance_log2", "params", "unknown",
        lambda: ls.public_key_distance_log2("nope"), ("`params`",)),
    Row(L + "root_hermite_factor", "beta", "zero", lambda: ls.root_hermite_factor(0),
        ("`beta`",)),  # fmt: skip
    Row(L + "root_hermite_factor", "beta", "fraction", lambda: ls.root_hermite_factor(2.5),
        ("`beta`",)),  # fmt: skip
    Row(L + "security_estimate", "params", "unknown", lambda: ls.security_estimate("nope"),
        ("`params`",)),  # fmt: skip
    Row(L + "security_estimate", "hashed_bits", "zero",
        lambda: ls.security_estimate("toy", hashed_bits=0), ("`hashed_bits`",)),
    Row(L + "sis_attack", "n", "zero", lambda: ls.sis_attack(0, 12, None, 5), ("`n`",)),
    Row(L + "sis_attack", "log_q", "zero", lambda: ls.sis_attack(8, 0, None, 5), ("`log_q`",)),
    Row(L + "sis_attack", "log_q", "nan", lambda: ls.sis_attack(8, NAN, None, 5), ("`log_q`",)),
    Row(L + "sis_attack", "max_dimension", "zero", lambda: ls.sis_attack(8, 12, 0, 5),
        ("`max_dimension`",)),  # fmt: skip
    Row(L + "sis_attack", "bound", "zero", lambda: ls.sis_attack(8, 12, None, 0), ("`bound`",)),
    Row(L + "sis_attack", "problem", "int", lambda: ls.sis_attack(8, 12, None, 5, problem=3),
        ("`problem`",)),  # fmt: skip
    # ---------------------------------------------------------------- attacks
    Row(L + "forge", "model", "linear", lambda: ls.forge(_lin(), X, 1.0), ("`model`",)),
    Row(L + "forge", "x", "shape", lambda: ls.forge(bm(), X[:-1], 1.0), ("`x`",)),
    Row(L + "forge", "x", "nan", lambda: ls.forge(bm(), _put(X, 0, NAN), 1.0), ("`x`",)),
    Row(L + "forge", "target", "zero", lambda: ls.forge(bm(), X, 0.0), ("`target`",)),
    Row(L + "forge_signature", "p", "str", lambda: ls.forge_signature("nope", pub(), _bits(1)),
        ("`p`",)),  # fmt: skip
    Row(L + "forge_signature", "public", "empty", lambda: ls.forge_signature(P, {}, _bits(1)),
        ("`public`",)),  # fmt: skip
    Row(L + "forge_signature", "public", "shape",
        lambda: ls.forge_signature(P, {**pub(), "u": np.zeros(1, np.int64)},
                                   _bits(P.message_bits)), ("`public['u']`",)),  # fmt: skip
    Row(L + "forge_signature", "message", "length",
        lambda: ls.forge_signature(P, pub(), _bits(3)), ("`message`",)),
    Row(L + "forge_signature", "block_sizes", "one",
        lambda: ls.forge_signature(P, pub(), _bits(P.message_bits), block_sizes=(1,)),
        ("`block_sizes`",)),
    Row(L + "forge_signature", "block_sizes", "empty",
        lambda: ls.forge_signature(P, pub(), _bits(P.message_bits), block_sizes=()),
        ("`block_sizes`",)),
    Row(L + "forge_signature", "max_dim", "one",
        lambda: ls.forge_signature(P, pub(), _bits(P.message_bits), max_dim=1), ("`max_dim`",)),
    Row(L + "forge_signature", "seed", "negative",
        lambda: ls.forge_signature(P, pub(), _bits(P.message_bits), seed=-1), ("`seed`",)),
    Row(L + "forge_signature", "time_limit", "negative",
        lambda: ls.forge_signature(P, pub(), _bits(P.message_bits), time_limit=-1),
        ("`time_limit`",)),
    Row(L + "forgery_frontier", "points", "n-zero", lambda: ls.forgery_frontier([(0, 12)]),
        ("`points",)),  # fmt: skip
    Row(L + "forgery_frontier", "points", "str", lambda: ls.forgery_frontier("x"),
        ("`points`",)),  # fmt: skip
    Row(L + "forgery_frontier", "points", "empty", lambda: ls.forgery_frontier([]),
        ("`points`",)),  # fmt: skip
    Row(L + "forgery_frontier", "block_sizes", "empty",
        lambda: ls.forgery_frontier([(8, 12)], block_sizes=()), ("`block_sizes`",)),
    Row(L + "forgery_frontier", "time_limit", "zero",
        lambda: ls.forgery_frontier([(8, 12)], time_limit=0), ("`time_limit`",)),
    Row(L + "replication_attempts", "enc", "str",
        lambda: ls.replication_attempts("e", X[None], X[None], X[None]), ("`enc`",)),
    Row(L + "replication_attempts", "x", "shape",
        lambda: ls.replication_attempts(enc(), X[None], X[None, :-1], X[None]), ("`x`",)),
    Row(L + "replication_attempts", "z", "rows",
        lambda: ls.replication_attempts(enc(), X[None], X[None], np.stack([X, X])), ("`z`",)),
    Row(L + "replication_attempts", "xa", "above-1",
        lambda: ls.replication_attempts(enc(), _put(X, 0, 2.0)[None], X[None], X[None]),
        ("`xa`", "[0, 1]")),
    Row(L + "replication_attempts", "seed", "negative",
        lambda: ls.replication_attempts(enc(), X[None], X[None], X[None], seed=-1),
        ("`seed`",)),
    # ---------------------------------------------------------------- signature (issue 17)
    Row(S + "can_activate", "backdoor_key", "str", lambda: sg.can_activate("k", X),
        ("`backdoor_key`",)),  # fmt: skip
    Row(S + "can_activate", "x", "shape", lambda: sg.can_activate(SKEY, X), ("`x`",)),
    Row(S + "can_activate", "x", "int", lambda: sg.can_activate(SKEY, np.zeros(64, np.int32)),
        ("`x`",)),  # fmt: skip
    Row(S + "step_for_range", "data_range", "zero", lambda: sg.step_for_range(0.0),
        ("`data_range`",)),  # fmt: skip
    Row(S + "step_for_range", "data_range", "inf", lambda: sg.step_for_range(float("inf")),
        ("`data_range`",)),  # fmt: skip
    Row(S + "step_for_range", "data_range", "str", lambda: sg.step_for_range("1"),
        ("`data_range`",)),  # fmt: skip
    Row(S + "step_for_range", "bits_per_coord", "zero",
        lambda: sg.step_for_range(1.0, bits_per_coord=0), ("`bits_per_coord`",)),
    Row(S + "step_for_range", "dtype", "int", lambda: sg.step_for_range(1.0, dtype=np.int32),
        ("`dtype`",)),  # fmt: skip
    Row(S + "step_for_range", "dtype", "float16-too-narrow",
        lambda: sg.step_for_range(1.0, bits_per_coord=12, dtype=np.float16), ("`dtype`",)),
    Row(S + "backdoor", "x_train", "columns",
        lambda: sg.backdoor(_lin(64), input_dim=64, x_train=np.zeros((3, 5), np.float32)),
        ("`x_train`",)),
    Row(S + "backdoor", "x_train", "nan",
        lambda: sg.backdoor(_lin(64), input_dim=64, x_train=np.full((3, 64), NAN, np.float32)),
        ("`x_train`",)),
    Row(S + "backdoor", "range_margin", "below-1",
        lambda: sg.backdoor(_lin(64), input_dim=64, range_margin=0.5), ("`range_margin`",)),
]  # fmt: skip


@pytest.mark.parametrize("row", ROWS, ids=ids(ROWS))
def test_bad_input(row):
    check_row(row)
