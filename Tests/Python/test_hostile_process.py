"""A hostile caller or process against the library: Tests/C/hostile.c, compiled here, runs each
scenario in its own process (a crash is a signal, a hang is a timeout, neither takes the test run
down) against the local server. The scenarios describe the behaviour the library should have;
see hostile.c for each one. Every scenario that does not crash must also leave stderr empty:
without CLARIFAI_LOG the library writes nothing, even when the caller is at fault."""
import os
import signal
import subprocess
from dataclasses import dataclass

import pytest

import capi

SOURCE = capi.ROOT / "Tests" / "C" / "hostile.c"
LIB_DIR = capi.ROOT / "build" / "lib"
CHANNELS = ("rest", "grpc", "grpcs")
SIZES = ("max", "2^62")
HUNG = 3  # hostile.c's exit code when its watchdog finds the scenario blocked

# (scenario, argument or None, seconds before the process counts as hung). hostile.c's own
# watchdog reports a hang sooner (exit 3); these limits are the backstop.
SCENARIOS = [
    *[(mode, channel, 90) for mode in ("fork", "fork-cold", "fork-free", "fork-queue") for channel in CHANNELS],
    ("truncated-file", None, 330),
    ("fifo", None, 30),
    ("directory", None, 30),
    ("dev-zero", None, 30),
    *[(name, channel, 60) for name in ("timeout-long-max", "timeout-long-max-minus-1", "timeout-100-years")
      for channel in CHANNELS],
    *[(name, size, 60) for name in ("size-predict-count", "size-call-proto", "size-predict-bytes", "size-proto-to-json",
                                    "size-response-concepts", "size-response-text", "size-method-name")
      for size in SIZES],
    ("huge-url", None, 90),
    ("huge-model-id", None, 90),
    ("bad-setters", None, 30),
    ("grpc-target", None, 30),
    ("json-base-url", None, 30),
    ("ca-file", None, 30),
]
IDS = [name if argument is None else f"{name}-{argument}" for name, argument, _ in SCENARIOS]


@dataclass
class Outcome:
    returncode: int | None  # None: still running at the time limit (killed)
    stdout: str
    stderr: str
    limit: int

    @property
    def crashed(self):
        return self.returncode is not None and self.returncode < 0

    @property
    def hung(self):
        return self.returncode in (None, HUNG)

    def describe(self):
        if self.returncode is None:
            what = f"hung: still running after {self.limit} s, killed"
        elif self.crashed:
            what = f"crashed: {signal.Signals(-self.returncode).name}"
        else:
            what = {0: "correct", 1: "wrong behaviour", 2: "setup failed", HUNG: "hung (hostile.c's watchdog)"}.get(
                self.returncode, f"exit {self.returncode}")
        return f"{what}\n--- stdout\n{self.stdout[-6000:]}\n--- stderr\n{self.stderr[-3000:]}"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """TMPDIR of the scenarios: what a crashed one leaves (e.g. a 64 MiB file) goes with pytest's
    temporary directories."""
    return tmp_path_factory.mktemp("hostile-tmp")


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    path = tmp_path_factory.mktemp("hostile") / "hostile"
    build = subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g",
                            f"-I{capi.ROOT / 'Include'}", "-pthread", "-o", str(path), str(SOURCE),
                            f"-L{LIB_DIR}", "-lclarifai", f"-Wl,-rpath,{LIB_DIR}"], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    return path


_outcomes = {}  # one run per scenario, shared by the behaviour and the silence tests


def _kill_group(leader):
    try:
        os.killpg(leader, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_scenario(program, server, scratch, name, argument, limit):
    key = (name, argument)
    if key not in _outcomes:
        env = {k: v for k, v in os.environ.items() if k != "CLARIFAI_LOG"}
        env.update(CLARIFAI_API_BASE=server.rest_url, CLARIFAI_GRPC_BASE=server.grpc_target,
                   CLARIFAI_GRPCS_BASE=server.grpcs_target, CLARIFAI_PAT=server.token,
                   CLARIFAI_ROOT_CERTIFICATES_PATH=str(server.tls_cert), TMPDIR=str(scratch))
        command = [str(program), name] + ([argument] if argument else [])
        # A session of its own: a forked child left behind is killed with its parent.
        with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              errors="replace", start_new_session=True) as process:
            try:
                stdout, stderr = process.communicate(timeout=limit)
                returncode = process.returncode
            except subprocess.TimeoutExpired:
                returncode = process.poll()  # None unless only a leftover child held the pipes open
                _kill_group(process.pid)
                stdout, stderr = process.communicate()
            _kill_group(process.pid)
        _outcomes[key] = Outcome(returncode, stdout, stderr, limit)
    return _outcomes[key]


@pytest.mark.parametrize("name, argument, limit", SCENARIOS, ids=IDS)
def test_hostile_scenario(program, tls_server, scratch, name, argument, limit):
    outcome = run_scenario(program, tls_server, scratch, name, argument, limit)
    assert outcome.returncode == 0, outcome.describe()


@pytest.mark.parametrize("name, argument, limit", SCENARIOS, ids=IDS)
def test_library_is_silent(program, tls_server, scratch, name, argument, limit):
    outcome = run_scenario(program, tls_server, scratch, name, argument, limit)
    if outcome.crashed or outcome.hung:
        pytest.skip("the scenario crashed or hung: see test_hostile_scenario")
    assert outcome.stderr == "", outcome.describe()
