"""scripts/test.sh's step runner (scripts/lib/steps.sh): one status line per step, test steps
go on after a failure, a failed fatal step stops the run, and the summary names the failing
tests of pytest, ctest and fuzz.sh with a closing 'steps: N passed, M failed'."""
import os
import subprocess

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def run(body):
    script = "set -euo pipefail\nsource scripts/lib/steps.sh\n" + body
    return subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True,
                          timeout=60)


def test_every_step_runs_and_the_failures_are_named():
    r = run("""
step continue "good" true
step continue "pytest" bash -c 'echo "FAILED tests/a.py::test_x - boom"; echo "1 failed"; exit 1'
step continue "ctest" bash -c 'printf "The following tests FAILED:\\n\\t  3 - l2_tests (Failed)\\n\\n"; exit 8'
step continue "fuzz" bash -c 'echo "fuzz: fuzz_resp_parser FAILED"; exit 1'
step continue "quiet" false
summary
""")
    out = r.stdout
    assert r.returncode == 0, r.stderr  # the caller decides the exit status from n_failed
    assert "==== good: passed in " in out
    assert "==== pytest: FAILED (exit 1) in " in out
    assert "==== ctest: FAILED (exit 8) in " in out
    failing = out.split("failing:\n", 1)[1]
    assert "  pytest: tests/a.py::test_x\n" in failing
    assert "  ctest: l2_tests (Failed)\n" in failing
    assert "  fuzz: fuzz_resp_parser\n" in failing
    assert "  quiet: (no test names in its output" in failing
    assert out.rstrip().splitlines()[-1] == "steps: 1 passed, 4 failed"


def test_a_failed_fatal_step_stops_the_run_with_its_summary():
    r = run("""
step continue "first" true
step fatal "build" bash -c 'exit 3'
echo NOT-REACHED
""")
    assert r.returncode == 3
    assert "NOT-REACHED" not in r.stdout
    assert "==== build: FAILED (exit 3) in " in r.stdout
    assert r.stdout.rstrip().splitlines()[-1] == "steps: 1 passed, 1 failed"
