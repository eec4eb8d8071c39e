"""The official SDK's config file (~/.config/clarifai/config) read by libclarifai.config as the
SDK's own Config reads it (the clarifai package, pinned in requirements-engine.txt), and
Client.from_config calling the local server with what a context says."""
import pytest

from test_binding import USER, libclarifai  # noqa: F401  (sets LIBCLARIFAI_PATH, sys.path)

from libclarifai import Client, InvalidArgumentError  # noqa: E402
from libclarifai.config import read_context  # noqa: E402

KEYS = ("pat", "user_id", "app_id", "api_base", "ui")


def write_config(path, server, app_id):
    path.write_text(f"""current_context: local
contexts:
  local:
    env:
      CLARIFAI_PAT: ENVVAR
      CLARIFAI_USER_ID: {USER}
      CLARIFAI_APP_ID: {app_id}
      CLARIFAI_API_BASE: {server.rest_url}
  other:
    env:
      pat: other-pat
      user_id: someone
""")


def sdk_reads(path, context):
    """What the SDK's Context gives for each key, or None where it raises."""
    from clarifai.utils.config import Config
    settings = Config.from_yaml(str(path)).contexts[context]
    return {key: settings.get(key) for key in KEYS}


def ours(path, context):
    settings = read_context(context, path)
    return {key: settings.get("CLARIFAI_" + key.upper()) for key in KEYS}


def test_contexts_read_as_the_sdk_reads_them(monkeypatch, tmp_path, server, app_id):
    for variable in ("CLARIFAI_PAT", "CLARIFAI_USER_ID", "CLARIFAI_APP_ID", "CLARIFAI_API_BASE", "CLARIFAI_UI"):
        monkeypatch.delenv(variable, raising=False)
    config = tmp_path / "config"
    write_config(config, server, app_id)
    monkeypatch.setenv("CLARIFAI_PAT", server.token)  # ENVVAR: from the environment
    assert ours(config, None) == sdk_reads(config, "local") == {
        "pat": server.token, "user_id": USER, "app_id": app_id, "api_base": server.rest_url, "ui": "https://clarifai.com"}
    monkeypatch.setenv("CLARIFAI_USER_ID", "from-env")  # the environment wins
    assert ours(config, "other") == sdk_reads(config, "other")
    assert ours(config, "other")["user_id"] == "from-env" and ours(config, "other")["api_base"] == "https://api.clarifai.com"
    monkeypatch.delenv("CLARIFAI_PAT")
    with pytest.raises(InvalidArgumentError, match="takes CLARIFAI_PAT from the environment, where it is unset"):
        read_context(None, config)
    with pytest.raises(InvalidArgumentError, match="no context 'nope' \\(it has local, other\\)"):
        read_context("nope", config)
    with pytest.raises(InvalidArgumentError, match="config file .*missing"):
        read_context(None, tmp_path / "missing")
    (tmp_path / "bad").write_text("contexts: [1, 2")
    with pytest.raises(InvalidArgumentError, match="config file .*bad"):
        read_context(None, tmp_path / "bad")


def test_client_from_config_calls_with_its_settings(monkeypatch, tmp_path, server, app_id):
    monkeypatch.delenv("CLARIFAI_USER_ID", raising=False)
    monkeypatch.delenv("CLARIFAI_APP_ID", raising=False)
    monkeypatch.delenv("CLARIFAI_API_BASE", raising=False)
    monkeypatch.setenv("CLARIFAI_PAT", server.token)
    config = tmp_path / "config"
    write_config(config, server, app_id)
    with Client.from_config(path=config) as client:
        assert (client.user_id, client.app_id) == (USER, app_id) and client.channel.kind == "json"
        client.call("PostConcepts", {"concepts": [{"id": "from-config"}]})  # into the context's app
        assert [c["id"] for c in client.call("ListConcepts")["concepts"]] == ["from-config"]
    monkeypatch.delenv("CLARIFAI_PAT")
    (tmp_path / "empty").write_text("current_context: c\ncontexts:\n  c:\n    env:\n      CLARIFAI_USER_ID: u\n")
    with pytest.raises(InvalidArgumentError, match="no CLARIFAI_PAT or CLARIFAI_SESSION_TOKEN"):
        Client.from_config(path=tmp_path / "empty")
