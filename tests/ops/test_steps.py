"""scripts/test.sh's step runner (scripts/lib/steps.sh): one status line per step, test steps
go on after a failure, a failed fatal step stops the run, and the summary names the failing
tests of pytest, ctest and fuzz.sh with a closing 'steps: N passed, M failed'."""
import os
import subprocess
import time

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


def test_a_background_step_runs_at_nice_19_alongside_and_is_reported_at_its_wait():
    r = run("""
step_start "build" bash -c 'echo "building at nice $(nice)"; sleep 2; echo built'
step continue "tests" bash -c 'sleep 1; echo "tests at nice $(nice)"'
step_wait continue "build"
summary
""")
    out = r.stdout
    assert r.returncode == 0, r.stderr
    assert "==== build: started in the background ====" in out
    # Its output is shown at the wait, after the step that ran meanwhile, not interleaved.
    assert out.index("tests at nice ") < out.index("building at nice 19") < out.index("built")
    line = [l for l in out.splitlines() if l.startswith("==== build: passed in ")][0]
    secs = int(line.split(" in ")[1].split("s")[0])
    assert 2 <= secs <= 4, line  # its own time, start to end, not the wait's
    assert "(in the background; waited " in line
    assert out.rstrip().splitlines()[-1] == "steps: 2 passed, 0 failed"


def test_a_failed_background_step_names_its_failures_and_a_fatal_one_stops_the_run():
    r = run("""
step_start "checks" bash -c 'echo "FAILED tests/b.py::test_z - no"; exit 1'
step_start "build" bash -c 'exit 2'
step_wait continue "checks"
step_wait fatal "build"
echo NOT-REACHED
""")
    assert r.returncode == 2
    assert "NOT-REACHED" not in r.stdout
    assert "  checks: tests/b.py::test_z\n" in r.stdout
    assert "==== build: FAILED (exit 2) in " in r.stdout
    assert r.stdout.rstrip().splitlines()[-1] == "steps: 0 passed, 2 failed"


def test_a_run_that_stops_early_stops_its_background_step():
    began = time.monotonic()
    r = run("""
step_start "build" bash -c 'sleep 40 & sleep 41; echo done'
step fatal "deps" false
""")
    assert r.returncode == 1
    # run() returns when the captured output closes, which the background step's subshell
    # holds: a run that did not stop it returns after the 41 s sleep.
    assert time.monotonic() - began < 30, "the run waited for its background step"
    # The exit trap signals the step's process group and does not wait: on a busy machine a
    # nice-19 sleep is still there for a moment (seen once, in a fresh-clone run with two test
    # loops beside it). It must be gone long before its 40 s would have ended it.
    deadline = time.monotonic() + 10
    while True:
        left = subprocess.run(["pgrep", "-f", "sleep 4[01]"], capture_output=True, text=True)
        if left.stdout == "" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert left.stdout == "", "the background step outlived the run by 10 s: " + left.stdout
