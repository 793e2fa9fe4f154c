"""`--quick` runs compile with most XLA optimisations off unless the user says otherwise, and
the report records which setting produced its numbers."""

import jax
import pytest

from jaxbd import _fast_compile, report
from jaxbd.cli import _reproduce
from jaxbd.cli._parser import build_parser


@pytest.fixture
def restore_flag(monkeypatch):
    # `_fast_compile` would also edit this process's `$XLA_FLAGS` (tested below, on a dict)
    monkeypatch.setattr(_fast_compile, "use_cpu_legacy_emitters", lambda environ=None: False)
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


# ------------------------------------------------------------------ XLA:CPU's legacy emitters


def test_legacy_emitters_flag_added_before_the_backends_start(monkeypatch):
    monkeypatch.setattr(_fast_compile, "_backends_started", lambda: False)
    env = {"XLA_FLAGS": "--xla_dump_to=/tmp/x"}
    assert _fast_compile.use_cpu_legacy_emitters(env) is True
    assert env["XLA_FLAGS"].split() == ["--xla_dump_to=/tmp/x", _fast_compile.CPU_LEGACY_EMITTERS]
    empty: dict[str, str] = {}
    assert _fast_compile.use_cpu_legacy_emitters(empty) is True
    assert empty["XLA_FLAGS"] == _fast_compile.CPU_LEGACY_EMITTERS


@pytest.mark.parametrize(
    "case", ["user set it", "backends started", "jaxlib too new", "jaxlib too old"]
)
def test_legacy_emitters_flag_left_out_where_unsafe(monkeypatch, case):
    """Never over the user's value, never after the backends read `$XLA_FLAGS`, never for a
    jaxlib not checked to know the flag (an unknown flag aborts the process)."""
    monkeypatch.setattr(_fast_compile, "_backends_started", lambda: case == "backends started")
    version = {"jaxlib too new": (0, 99), "jaxlib too old": (0, 5)}.get(case, (0, 10))
    monkeypatch.setattr(_fast_compile, "_jaxlib_version", lambda: version)
    flags = "--xla_cpu_use_fusion_emitters=true" if case == "user set it" else "--xla_foo=1"
    env = {"XLA_FLAGS": flags}
    assert _fast_compile.use_cpu_legacy_emitters(env) is False
    assert env == {"XLA_FLAGS": flags}


def test_report_records_the_emitters(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", _fast_compile.CPU_LEGACY_EMITTERS)
    assert report.to_json([])["xla_cpu_legacy_emitters"] is True
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_use_fusion_emitters=true")
    assert report.to_json([])["xla_cpu_legacy_emitters"] is False


def test_the_default_suite_runs_with_legacy_emitters():
    """tests/conftest.py adds the flag unless `JAXBD_TEST_XLA_OPTIMIZE=1` (or the user's
    `$XLA_FLAGS` names it)."""
    import os

    if os.environ.get("JAXBD_TEST_XLA_OPTIMIZE", "0") == "1":
        assert not _fast_compile.legacy_emitters_in_effect()
    elif "xla_cpu_use_fusion_emitters=true" not in os.environ.get("XLA_FLAGS", ""):
        assert _fast_compile.legacy_emitters_in_effect()
