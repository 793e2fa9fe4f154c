"""Files saved before `checksum`, `signature` and `datasets` became packages (#14) still load.

`tests/data/pre_split_blackbox.{jaxbd,key,npz}` were written by the single-file modules (a
checksum-backdoored and a signature-backdoored `eqx.nn.Linear`, a `Dataset`, their keys, and
inputs, activated inputs and outputs). A file names classes by registry name, so the names it
records must not depend on how a package is split inside (`jaxbd.signature.Encoding`, not
`jaxbd.signature._encoding.Encoding`).
"""

import os

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from jaxbd import checksum, datasets, io, signature


DATA = os.path.join(os.path.dirname(__file__), "data")
MODEL_CLASSES = [
    "equinox.nn._linear.Linear",
    "jaxbd.checksum.ChecksumBackdooredModel",
    "jaxbd.checksum.ThresholdLayer",
    "jaxbd.datasets.Dataset",
    "jaxbd.signature.Encoding",
    "jaxbd.signature.SignatureBackdooredModel",
]
KEY_CLASSES = [
    "jaxbd.checksum.ChecksumKey",
    "jaxbd.signature.Encoding",
    "jaxbd.signature.SignatureKey",
]


def _load():
    models = io.load(os.path.join(DATA, "pre_split_blackbox.jaxbd"))
    keys = io.load_key(os.path.join(DATA, "pre_split_blackbox.key"))
    return models, keys, np.load(os.path.join(DATA, "pre_split_blackbox.npz"))


def test_files_saved_before_the_split_record_public_class_paths():
    assert (
        io.read_header(os.path.join(DATA, "pre_split_blackbox.jaxbd"))["classes"] == MODEL_CLASSES
    )
    assert io.read_header(os.path.join(DATA, "pre_split_blackbox.key"))["classes"] == KEY_CLASSES


def test_files_saved_before_the_split_load_and_open_their_backdoors():
    models, keys, e = _load()
    cs_model, sg_model = models["checksum"], models["signature"]
    assert isinstance(cs_model, checksum.ChecksumBackdooredModel)
    assert isinstance(sg_model, signature.SignatureBackdooredModel)
    assert isinstance(keys["checksum"], checksum.ChecksumKey)
    assert isinstance(keys["signature"], signature.SignatureKey)
    assert isinstance(models["dataset"], datasets.Dataset)
    for name, model in (("cs", cs_model), ("sg", sg_model)):
        np.testing.assert_array_equal(model(jnp.asarray(e[f"x_{name}"])), e[f"y_{name}"])
        np.testing.assert_array_equal(model(jnp.asarray(e[f"xa_{name}"])), e[f"ya_{name}"])
    # The loaded keys reproduce the activations (Ed25519 signing is deterministic, RFC 8032).
    xa_cs = checksum.activate(keys["checksum"], jnp.asarray(e["x_cs"]), -1.0)
    np.testing.assert_array_equal(xa_cs, e["xa_cs"])
    xa_sg = signature.activate(keys["signature"], jnp.asarray(e["x_sg"]), 2)
    np.testing.assert_array_equal(xa_sg, e["xa_sg"])
    assert int(jnp.argmax(sg_model(xa_sg))) == 2 and float(cs_model(xa_cs)) == -1.0


def test_saving_now_records_the_same_class_paths(tmp_path):
    k1, k2, k3 = jr.split(jr.key(0), 3)
    cs_model, cs_key = checksum.backdoor(
        k1, eqx.nn.Linear(8, "scalar", key=k2), input_dim=8, num_blocks=3
    )
    sk = Ed25519PrivateKey.generate()
    sg_model, sg_key = signature.backdoor(
        eqx.nn.Linear(64, 3, key=k3), input_dim=64, signing_key=sk
    )
    rng = np.random.default_rng(0)
    data = datasets.from_arrays(rng.standard_normal((12, 3)), np.arange(12) % 3, seed=1)
    tree = {"checksum": cs_model, "signature": sg_model, "dataset": data}
    io.save(tmp_path / "m.jaxbd", tree)
    io.save_key(tmp_path / "k.key", {"checksum": cs_key, "signature": sg_key})
    assert io.read_header(tmp_path / "m.jaxbd")["classes"] == MODEL_CLASSES
    assert io.read_header(tmp_path / "k.key")["classes"] == KEY_CLASSES
