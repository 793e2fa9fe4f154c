"""`--quick` runs compile with most XLA optimisations off unless the user says otherwise, and
the report records which setting produced its numbers."""

import jax
import pytest

from jaxbd import report
from jaxbd.cli import _reproduce
from jaxbd.cli._parser import build_parser


@pytest.fixture
def restore_flag():
    before = jax.config.read("jax_disable_most_optimizations")
    yield
    jax.config.update("jax_disable_most_optimizations", before)


def test_quick_turns_most_optimizations_off(monkeypatch, restore_flag):
    monkeypatch.delenv("JAX_DISABLE_MOST_OPTIMIZATIONS", raising=False)
    jax.config.update("jax_disable_most_optimizations", False)
    _reproduce._fast_compile()
    assert jax.config.read("jax_disable_most_optimizations") is True
    assert report.to_json([])["xla_most_optimizations_disabled"] is True


def test_the_users_environment_variable_wins(monkeypatch, restore_flag):
    monkeypatch.setenv("JAX_DISABLE_MOST_OPTIMIZATIONS", "0")
    jax.config.update("jax_disable_most_optimizations", False)
    _reproduce._fast_compile()
    assert jax.config.read("jax_disable_most_optimizations") is False
    assert report.to_json([])["xla_most_optimizations_disabled"] is False


@pytest.mark.parametrize("command", [["reproduce"], ["run", "rff"]])
def test_xla_optimize_flag_is_parsed(command):
    args = build_parser().parse_args([*command, "--quick", "--xla-optimize"])
    assert args.quick and args.xla_optimize
    assert not build_parser().parse_args([*command, "--quick"]).xla_optimize
