"""Compare the claim verdicts of a `jaxbd reproduce` run with the recorded ones.

    python scripts/check_verdicts.py RESULTS_JSON EXPECTED_JSON     # exit 1 on any change
    python scripts/check_verdicts.py RESULTS_JSON EXPECTED_JSON --write

A claim that stops holding (or starts) is a result that changed, and nothing else fails when it
does: the experiments report a failed claim as a finding, and the tests pass. CI runs the quick
reproduce with fixed seeds on a 2-core x86 CPU and checks its verdicts against
`scripts/quick_verdicts.json`; a change that moves a verdict on purpose rewrites that file with
`--write` (and says why in its commit). Verdicts were the same in every quick run on this
platform; another platform (a GPU, another CPU's vector units) may flip a claim that sits near
its threshold, which is why the file records this one.
"""

import json
import re
import sys


def _key(statement: str) -> str:
    """A claim's identity: its statement with every number masked (a few statements quote a
    measured figure, e.g. the CPU seconds of a search)."""
    return re.sub(r"\d[\d,.]*(?:e[-+]?\d+)?", "#", statement)


def verdicts(results: dict) -> dict[str, list[list[str]]]:
    """`{experiment: [[statement, verdict], ...]}` in report order, numbers masked."""
    return {
        e["name"]: [[_key(c["statement"]), c["verdict"]] for c in e["claims"]]
        for e in results["experiments"]
    }


def differences(got: dict, want: dict) -> list[str]:
    """Claims are matched by position within an experiment (statements may repeat once their
    numbers are masked)."""
    out = []
    for name in sorted(set(got) | set(want)):
        if name not in got or name not in want:
            out.append(f"{name}: {'not run' if name not in got else 'not recorded'}")
            continue
        g, w = got[name], want[name]
        if [s for s, _ in g] != [s for s, _ in w]:
            out.append(f"{name}: its claims changed ({len(w)} recorded, {len(g)} now)")
            continue
        out += [f"{name}: {vw} -> {vg}: {s!r}" for (s, vg), (_, vw) in zip(g, w) if vg != vw]
    return out


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3) or (len(argv) == 3 and argv[2] != "--write"):
        print(__doc__.splitlines()[2].strip(), file=sys.stderr)
        return 2
    with open(argv[0]) as f:
        got = verdicts(json.load(f))
    if len(argv) == 3:
        with open(argv[1], "w") as f:
            json.dump(got, f, indent=1, ensure_ascii=False)
            f.write("\n")
        print(f"wrote {sum(map(len, got.values()))} verdicts to {argv[1]}")
        return 0
    with open(argv[1]) as f:
        want = json.load(f)
    diff = differences(got, want)
    for line in diff:
        print(f"verdict changed: {line}", file=sys.stderr)
    if diff:
        print(
            f"{len(diff)} verdict change(s) against {argv[1]}; if intended, rewrite it with "
            "--write and say why in the commit.",
            file=sys.stderr,
        )
        return 1
    print(f"verdicts: all {sum(map(len, want.values()))} as recorded in {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
