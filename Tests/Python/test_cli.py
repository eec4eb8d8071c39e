"""clarifai-cli (Bindings/cli) end to end against the local server, on REST and cleartext gRPC:
its output compared with what the library's own calls give, its exit codes, its usage errors."""
import json
import os
import re
import subprocess

import pytest

import capi

CLI = capi.ROOT / "build" / "bin" / "clarifai-cli"


def cli_env(server, app_id):
    return {**os.environ, "CLARIFAI_PAT": server.token, "CLARIFAI_USER_ID": "test-user", "CLARIFAI_APP_ID": app_id}


@pytest.fixture(params=["rest", "grpc"])
def cli(request, server, app_id):
    """cli(*args, stdin=None) -> CompletedProcess, the channel's options first."""
    channel = ["--base", server.rest_url] if request.param == "rest" else ["--grpc", "--base", "http://" + server.grpc_target]
    env = cli_env(server, app_id)

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


def test_help_and_version_exit_0_on_stdout():
    helped = subprocess.run([str(CLI), "--help"], capture_output=True, text=True, timeout=30)
    assert helped.returncode == 0 and helped.stdout.startswith("usage: clarifai-cli") and helped.stderr == ""
    version = subprocess.run([str(CLI), "--version"], capture_output=True, text=True, timeout=30)
    header = (capi.ROOT / "Include" / "clarifai.h").read_text()
    library = re.search(r'#define CLARIFAI_VERSION_STRING "(.*)"', header).group(1)
    assert version.returncode == 0 and version.stdout.split()[:2] == ["clarifai-cli", library]


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


def read_terminal(controller):
    """All a pseudo-terminal's program side wrote, once it has closed it."""
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
    return drawn


def test_bulk_progress_shows_on_a_terminal(server, app_id):
    """With stderr on a pseudo-terminal, a bulk run draws its progress there (done, failed, in
    flight, rate), redrawn in place; stdout stays JSON Lines."""
    import pty
    controller, terminal = pty.openpty()
    urls = "".join(f"https://samples.clarifai.com/tty/{i}.jpg\n" for i in range(100)) + "https://x/fail/tty.jpg\n"
    process = subprocess.Popen([str(CLI), "--base", server.rest_url, "predict", "general-image-recognition", "-"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=terminal, env=cli_env(server, app_id))
    os.close(terminal)
    stdout, _ = process.communicate(urls.encode(), timeout=60)
    drawn = read_terminal(controller)
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


def test_bulk_progress_has_a_bar_and_an_eta_when_the_count_is_known(server, app_id, tmp_path):
    """stdin a regular file: the inputs are counted first (--resume's done ones left out), so the
    progress has a bar, a percentage and the time left; the run itself reads the file again."""
    import pty
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"https://samples.clarifai.com/eta/{i}.jpg\n" for i in range(300)) + "\n")
    done = tmp_path / "done.jsonl"
    done.write_text("".join(json.dumps({"input": f"https://samples.clarifai.com/eta/{i}.jpg", "code": 0}) + "\n"
                            for i in range(100)))
    controller, terminal = pty.openpty()
    with open(urls) as stdin:
        process = subprocess.Popen([str(CLI), "--base", server.rest_url, "--resume", str(done), "predict",
                                    "general-image-recognition", "-"], stdin=stdin, stdout=subprocess.PIPE,
                                   stderr=terminal, env=cli_env(server, app_id))
    os.close(terminal)
    stdout, _ = process.communicate(timeout=60)
    drawn = read_terminal(controller).decode()
    assert len(stdout.decode().splitlines()) == 200 and process.returncode == 0
    assert "] 100% 200 done, 0 failed, 0 in flight" in drawn and "ETA" in drawn
    assert "100 inputs done before (--resume), skipped" in drawn


def test_upload_adds_inputs_once_follows_downloads_and_reports_failures(cli, tmp_path):
    """upload: each input's id and source (or a JSON line), failed downloads retried then reported
    with their status, an unreadable file reported alone; uploading again adds nothing twice."""
    image = tmp_path / "photo.jpg"
    image.write_bytes(b"\xff\xd8 not really a jpeg")
    sources = ["https://samples.clarifai.com/upload/1.jpg", str(image), "https://x/fail/9.jpg", str(tmp_path / "gone.jpg")]
    first = cli("--concepts", "cat,dog", "upload", *sources)
    assert first.returncode == 5  # the first failure in input order: a download (CLARIFAI_ERROR_API)
    added = dict(line.split("\t")[::-1] for line in first.stdout.splitlines())
    assert sorted(added) == sorted(sources[:2]) and all(i.startswith("in-") for i in added.values())
    assert f"https://x/fail/9.jpg: download failed (status 30002) after 3 tries" in first.stderr
    assert f"cannot read file '{tmp_path / 'gone.jpg'}'" in first.stderr
    inputs = [json.loads(line) for line in cli("--json", "list", "inputs").stdout.splitlines()]
    assert sorted(i["id"] for i in inputs) == sorted(added.values())
    assert all(sorted(c["id"] for c in i["data"]["concepts"]) == ["cat", "dog"] for i in inputs)
    again = cli("--json", "--retries", "0", "upload", "-", stdin="\n".join(sources[:3]) + "\n")
    rows = [json.loads(line) for line in again.stdout.splitlines()]
    assert [row["input"] for row in rows] == sources[:3] and [row["index"] for row in rows] == [0, 1, 2]
    assert [row["input_id"] for row in rows[:2]] == [added[s] for s in sources[:2]]
    assert rows[2]["code"] == 5 and rows[2]["status"] == 30002 and rows[2]["tries"] == 1 and "error" in rows[2]
    assert len(cli("list", "inputs").stdout.split()) == 2  # nothing added twice


def test_upload_progress_bar_on_a_terminal(server, app_id):
    import pty
    controller, terminal = pty.openpty()
    urls = [f"https://samples.clarifai.com/up/{i}.jpg" for i in range(40)]
    process = subprocess.Popen([str(CLI), "--base", server.rest_url, "upload", *urls], stdout=subprocess.PIPE,
                               stderr=terminal, env=cli_env(server, app_id))
    os.close(terminal)
    stdout, _ = process.communicate(timeout=60)
    drawn = read_terminal(controller).decode()
    assert process.returncode == 0 and len(stdout.decode().splitlines()) == 40
    assert "] 100% 40 done, 0 failed, 0 in flight" in drawn and drawn.endswith("\r\n")


def grpc_cli(server, app_id, *args, **kwargs):
    return subprocess.Popen([str(CLI), "--grpc", "--base", "http://" + server.grpc_target, *args],
                            env=cli_env(server, app_id), **kwargs)


def test_stream_prints_each_message_as_it_arrives(server, app_id):
    """stream METHOD JSON: one JSON line per answer, flushed as each arrives (a stream that never
    ends shows its first answers at once); REST cannot carry streams (exit 6)."""
    request = '{"model_id": "stream-count", "inputs": [{"data": {"text": {"raw": "3"}}}]}'
    done = grpc_cli(server, app_id, "stream", "GenerateModelOutputs", request, stdout=subprocess.PIPE, text=True)
    stdout, _ = done.communicate(timeout=60)
    assert done.returncode == 0
    assert [json.loads(line)["outputs"][0]["data"]["text"]["raw"] for line in stdout.splitlines()] == ["0", "1", "2"]
    forever = grpc_cli(server, app_id, "stream", "GenerateModelOutputs", request.replace("stream-count", "stream-forever"),
                       stdout=subprocess.PIPE, text=True)
    try:
        first, second = forever.stdout.readline(), forever.stdout.readline()
        assert json.loads(first)["outputs"][0]["data"]["text"]["raw"] == "0"
        assert json.loads(second)["outputs"][0]["data"]["text"]["raw"] == "1"
        assert forever.poll() is None  # still streaming
    finally:
        forever.kill()
        forever.wait()
    rest = subprocess.run([str(CLI), "--base", server.rest_url, "stream", "GenerateModelOutputs", request],
                          capture_output=True, text=True, env=cli_env(server, app_id), timeout=60)
    assert rest.returncode == 6 and "gRPC channel" in rest.stderr


def test_stream_sends_stdin_lines_while_answers_come(server, app_id):
    """stream METHOD -: each line a request, sent as read; a bidirectional method's answers are
    printed while stdin is still open (the answer to the first line comes before the second is
    written); a bad line stops the stream with its error; a stream the server ends ends the
    program, stdin open or not."""
    process = grpc_cli(server, app_id, "stream", "StreamModelOutputs", "-", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    texts = []
    for word in ("first", "second", "third"):
        process.stdin.write(json.dumps({"model_id": "text-echo", "inputs": [{"data": {"text": {"raw": word}}}]}) + "\n")
        process.stdin.flush()
        texts.append(json.loads(process.stdout.readline())["outputs"][0]["data"]["text"]["raw"])
    process.stdin.close()
    assert process.wait(timeout=60) == 0 and process.stdout.read() == "" and texts == ["echo: first", "echo: second", "echo: third"]
    bad = grpc_cli(server, app_id, "stream", "StreamModelOutputs", "-", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, text=True)
    _, stderr = bad.communicate('{"model_id": "text-echo"}\n{"no_such_field": 1}\n', timeout=60)
    assert bad.returncode == 1 and "no_such_field" in stderr
    # The server ends the stream while stdin stays open: the program ends too, without waiting for stdin.
    early = grpc_cli(server, app_id, "stream", "StreamModelOutputs", "-", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True)
    early.stdin.write('{"model_id": "bidi-end-early", "inputs": [{"data": {"text": {"raw": "a"}}}]}\n' * 2)
    early.stdin.flush()
    try:
        code = early.wait(timeout=30)
        lines, stderr = early.stdout.read().splitlines(), early.stderr.read()
        if capi.LIBCURL_VERSION >= (8, 1):
            assert (code, len(lines)) == (0, 2), stderr
        else:  # the answers that come with the end can be lost (clarifai.h, Streams), all of them only with an error
            assert (code == 0 and 1 <= len(lines) <= 2) or (code == capi.TRANSPORT and "only its trailers arrived" in stderr), stderr
    finally:
        early.kill()
        early.stdin.close()


CONFIG = """current_context: work
contexts:
  work:
    env:
      CLARIFAI_PAT: ENVVAR
      user_id: config-user
      CLARIFAI_API_BASE: {base}
      nested: {{a: 1}}
  other:
    env:
      pat: {token}
      CLARIFAI_APP_ID: other-app
      CLARIFAI_API_BASE: {base}
"""


def test_config_is_read_as_the_sdk_reads_it(server, app_id, tmp_path):
    """The SDK's config file: settings as libclarifai.config.read_context reads them (the
    environment first, ENVVAR, keys without the prefix), used for the calls; its problems named
    (exit 78)."""
    from libclarifai.config import read_context
    home = tmp_path / "home"
    (home / ".config" / "clarifai").mkdir(parents=True)
    config = home / ".config" / "clarifai" / "config"
    config.write_text(CONFIG.format(base=server.rest_url, token=server.token))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CLARIFAI_")}

    def run(*args, **env):
        return subprocess.run([str(CLI), *args], capture_output=True, text=True, env={**clean, "HOME": str(home), **env},
                              timeout=60)

    def expected(context, **env):
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update({**clean, **env})
        try:
            settings = read_context(context, config)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        shown = {k: "<hidden>" if k.endswith("_PAT") or "TOKEN" in k else v for k, v in settings.items()}
        return [f"# {config}, context {context or 'work'}"] + [f"{k}={v}" for k, v in sorted(shown.items())]

    env = {"CLARIFAI_PAT": server.token, "CLARIFAI_APP_ID": app_id}
    assert run("config", **env).stdout.splitlines() == expected(None, **env)
    assert run("--context", "other", "config").stdout.splitlines() == expected("other")
    # A call on the file's settings: the token from the environment (ENVVAR), the user from the file.
    posted = run("call", "PostConcepts", '{"concepts": [{"id": "from-config"}]}', **env)
    assert posted.returncode == 0, posted.stderr
    assert run("--user", "config-user", "list", "concepts", **env).stdout.split() == ["from-config"]
    assert run("--context", "other", "--user", "test-user", "list", "concepts").returncode == 0  # the file's own pat
    unset = run("config")
    assert unset.returncode == 78 and "takes CLARIFAI_PAT from the environment, where it is unset" in unset.stderr
    missing = run("--context", "nope", "config")
    assert missing.returncode == 78 and "has no context 'nope'" in missing.stderr
    broken = tmp_path / "broken"
    broken.write_text("contexts: [unclosed\n")
    bad = run("--config", str(broken), "config")
    assert bad.returncode == 78 and f"{broken}: line 2" in bad.stderr
    absent = run("--config", str(tmp_path / "absent"), "config")
    assert absent.returncode == 78 and "No such file" in absent.stderr
    (home / ".config" / "clarifai" / "config").unlink()
    assert run("config").stdout.splitlines()[0] == "# no config file"


def test_bash_completion_offers_commands_methods_and_kinds():
    script = f"""
        source {capi.ROOT}/Bindings/cli/clarifai-cli.bash-completion
        complete_words() {{ COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _clarifai_cli; echo "${{COMPREPLY[*]}}"; }}
        complete_words {CLI} call PostModelOutp
        complete_words {CLI} --grpc --base x stream GenerateM
        complete_words {CLI} li
        complete_words {CLI} --gr
        complete_words {CLI} list con
    """
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.splitlines() == ["PostModelOutputs", "GenerateModelOutputs", "list", "--grpc", "concepts"], done.stderr


def test_readme_shell_section_runs_as_pasted(tls_server, tmp_path):
    """README's "From the shell" block, line by line, against the local server (TLS gRPC too)."""
    readme = (capi.ROOT / "README.md").read_text()
    section = readme[readme.index("## From the shell"):]
    block = section[section.index("```sh\n") + 6:section.index("```\n", section.index("```sh\n") + 6)]
    env = {**os.environ, "CLARIFAI_API_BASE": tls_server.rest_url, "CLARIFAI_GRPC_BASE": tls_server.grpcs_target,
           "CLARIFAI_ROOT_CERTIFICATES_PATH": str(tls_server.tls_cert), "CLARIFAI_PAT": tls_server.token,
           "CLARIFAI_USER_ID": "test-user", "CLARIFAI_APP_ID": "readme-shell", "HOME": str(tmp_path)}
    done = subprocess.run(["bash", "-e", "-c", f"cd {capi.ROOT}\ntrap 'rm -f urls.txt results.jsonl' EXIT\n{block}"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
