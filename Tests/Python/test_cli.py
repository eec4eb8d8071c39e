"""clarifai-cli (Bindings/cli) end to end against the local server, on REST and cleartext gRPC:
its output compared with what the library's own calls give, its exit codes, its usage errors."""
import json
import os
import subprocess

import pytest

import capi

CLI = capi.ROOT / "build" / "bin" / "clarifai-cli"


@pytest.fixture(params=["rest", "grpc"])
def cli(request, server, app_id):
    """cli(*args, stdin=None) -> CompletedProcess, the channel's options first."""
    channel = ["--base", server.rest_url] if request.param == "rest" else ["--grpc", "--base", "http://" + server.grpc_target]
    env = {**os.environ, "CLARIFAI_PAT": server.token, "CLARIFAI_USER_ID": "test-user", "CLARIFAI_APP_ID": app_id}

    def run(*args, stdin=None):
        return subprocess.run([str(CLI), *channel, *args], input=stdin, capture_output=True, text=True, env=env, timeout=60)
    return run


def test_methods_lists_the_service():
    done = subprocess.run([str(CLI), "methods"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and len(done.stdout.split()) == 273 and "PostModelOutputs" in done.stdout.split()


def test_call_prints_the_response_and_exits_with_the_error_code(cli):
    posted = cli("call", "PostConcepts", '{"concepts": [{"id": "cat"}, {"id": "dog"}]}')
    assert posted.returncode == 0 and json.loads(posted.stdout)["status"]["code"] == 10000
    listed = cli("call", "ListConcepts", "-", stdin='{"per_page": 1}')  # the request from stdin
    assert [c["id"] for c in json.loads(listed.stdout)["concepts"]] == ["cat"]
    assert "\n" not in listed.stdout.strip()  # one line when stdout is not a terminal
    missing = cli("call", "GetModel", '{"model_id": "no-such-model"}')
    assert missing.returncode == 5 and json.loads(missing.stdout)["status"]["code"] == 21200 and "21200" in missing.stderr
    unknown = cli("call", "NoSuchMethod")
    assert unknown.returncode == 1 and "unknown method 'NoSuchMethod'" in unknown.stderr and unknown.stdout == ""


def test_predict_prints_concepts_as_the_library_reads_them(cli, pyclient_for_cli):
    done = cli("predict", "general-image-recognition", "https://samples.clarifai.com/metro-north.jpg")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    expected = pyclient_for_cli.predict("general-image-recognition", url="https://samples.clarifai.com/metro-north.jpg")
    assert lines[0] == "https://samples.clarifai.com/metro-north.jpg" and len(lines) == 1 + len(expected.concepts)
    assert lines[1].split() == [expected.concepts[0].name, expected.concepts[0].id, f"{expected.concepts[0].value:.4f}"]
    as_json = cli("--json", "predict", "general-image-recognition", "https://samples.clarifai.com/metro-north.jpg")
    assert json.loads(as_json.stdout)["outputs"][0]["data"]["concepts"][0]["id"] == expected.concepts[0].id
    failing = cli("predict", "general-image-recognition", "https://samples.clarifai.com/fail/1.jpg", "/no/such/file.jpg")
    assert failing.returncode == 5 and "30002" in failing.stderr and "/no/such/file.jpg" in failing.stderr


@pytest.fixture
def pyclient_for_cli(server, app_id):
    from libclarifai import Channel, Client
    with Channel.json(server.rest_url) as channel, Client(channel, server.token, "test-user", app_id) as client:
        yield client


def test_list_walks_every_page(cli):
    concepts = [{"id": f"c{i:03d}"} for i in range(300)]
    assert cli("call", "PostConcepts", json.dumps({"concepts": concepts})).returncode == 0
    ids = cli("list", "concepts")
    assert ids.returncode == 0 and ids.stdout.split() == [c["id"] for c in concepts]  # 3 pages of 128
    lines = cli("--json", "list", "concepts").stdout.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [c["id"] for c in concepts]


def test_usage_errors_exit_64():
    for args in ([], ["frobnicate"], ["list", "everything"], ["--timeout", "soon", "methods"], ["call"], ["--base"]):
        done = subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=30)
        assert done.returncode == 64 and "usage: clarifai-cli" in done.stderr, args


def test_bulk_predict_from_stdin_writes_json_lines_and_resumes(cli, tmp_path, pyclient_for_cli):
    """`predict MODEL -`: URLs and files from stdin through predict_many, one JSON line each
    (in the order requests end), the failures with their own status; --resume skips what an
    earlier run did and runs the rest."""
    image = tmp_path / "image.png"
    image.write_bytes(b"\x89PNG not really")
    lines = [f"https://samples.clarifai.com/bulk/{i}.jpg" for i in range(60)] + ["https://x/fail/1.jpg", str(image),
                                                                                  str(tmp_path / "missing.jpg")]
    first = cli("predict", "general-image-recognition", "-", stdin="\n".join(lines) + "\n\n")
    rows = {row["input"]: row for row in map(json.loads, first.stdout.splitlines())}
    assert first.returncode == 5 and sorted(rows) == sorted(lines) and first.stderr == ""  # no progress bar off a terminal
    assert rows["https://x/fail/1.jpg"]["status"] == 30002 and rows[str(tmp_path / "missing.jpg")]["code"] == 1
    assert "cannot read file" in rows[str(tmp_path / "missing.jpg")]["error"]
    expected = pyclient_for_cli.predict("general-image-recognition", url=lines[0]).concepts[0]
    assert rows[lines[0]]["concepts"][0] == {"id": expected.id, "name": expected.name, "value": pytest.approx(expected.value)}
    assert rows[str(image)]["code"] == 0 and [rows[line]["index"] for line in lines] == list(range(len(lines)))
    done = tmp_path / "results.jsonl"
    done.write_text(first.stdout)
    again = cli("--resume", str(done), "predict", "general-image-recognition", "-",
                stdin="\n".join(lines + ["https://samples.clarifai.com/bulk/new.jpg"]))
    assert sorted(json.loads(row)["input"] for row in again.stdout.splitlines()) == sorted(
        ["https://x/fail/1.jpg", str(tmp_path / "missing.jpg"), "https://samples.clarifai.com/bulk/new.jpg"])
    assert "61 inputs done before (--resume), skipped" in again.stderr
    unreadable = cli("--resume", str(tmp_path / "nope.jsonl"), "predict", "general-image-recognition", "-", stdin="")
    assert unreadable.returncode == 64 and "--resume" in unreadable.stderr


def test_bulk_progress_shows_on_a_terminal(server, app_id):
    """With stderr on a pseudo-terminal, a bulk run draws its progress there (done, failed, in
    flight, rate), redrawn in place; stdout stays JSON Lines."""
    import pty
    controller, terminal = pty.openpty()
    env = {**os.environ, "CLARIFAI_PAT": server.token, "CLARIFAI_USER_ID": "test-user", "CLARIFAI_APP_ID": app_id}
    urls = "".join(f"https://samples.clarifai.com/tty/{i}.jpg\n" for i in range(100)) + "https://x/fail/tty.jpg\n"
    process = subprocess.Popen([str(CLI), "--base", server.rest_url, "predict", "general-image-recognition", "-"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=terminal, env=env)
    os.close(terminal)
    stdout, _ = process.communicate(urls.encode(), timeout=60)
    drawn = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the terminal's other side is closed
            break
        if not chunk:
            break
        drawn += chunk
    os.close(controller)
    assert len(stdout.decode().splitlines()) == 101
    assert drawn.count(b"\r") >= 2 and b"101 done, 1 failed, 0 in flight" in drawn and drawn.endswith(b"\r\n")


def test_bulk_refuses_what_is_not_a_regular_file(cli, tmp_path):
    """A FIFO (which would block its reader) and a device fail alone, at once."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    done = cli("predict", "general-image-recognition", "-", stdin=f"{fifo}\n/dev/zero\nhttps://x/ok.jpg\n")
    rows = {row["input"]: row for row in map(json.loads, done.stdout.splitlines())}
    assert rows[str(fifo)]["error"] == f"cannot read file '{fifo}': not a regular file"
    assert rows["/dev/zero"]["code"] == 1 and rows["https://x/ok.jpg"]["code"] == 0
