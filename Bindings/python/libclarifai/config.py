"""The official SDK's configuration file, read as the SDK reads it.

`clarifai login` and `clarifai config` write ~/.config/clarifai/config (YAML):

    current_context: default
    contexts:
      default:
        env:
          CLARIFAI_PAT: ENVVAR          # "from the environment"
          CLARIFAI_USER_ID: me
          CLARIFAI_API_BASE: https://api.clarifai.com

The C library reads no file of its own accord; this module (and `Client.from_config`) is where
the Python binding does. Needs PyYAML (which the SDK installs).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Optional, Union

from .errors import InvalidArgumentError

__all__ = ["DEFAULT_PATH", "read_context"]

DEFAULT_PATH = Path.home() / ".config" / "clarifai" / "config"
#: What the SDK takes when a context does not say.
_DEFAULTS = {"CLARIFAI_API_BASE": "https://api.clarifai.com", "CLARIFAI_UI": "https://clarifai.com"}


def read_context(context: Optional[str] = None, path: Union[str, "os.PathLike[str]", None] = None) -> Dict[str, str]:
    """The settings of `context` (None: the file's current_context) in the SDK's config file at
    `path` (None: ~/.config/clarifai/config), by their CLARIFAI_* names, as the SDK's Context
    reads them: the environment's CLARIFAI_X first, else the file's value, where ENVVAR means
    "the environment's" (InvalidArgumentError when it is unset); a key written without the
    CLARIFAI_ prefix (pat:) counts as with it; CLARIFAI_API_BASE and CLARIFAI_UI default to
    Clarifai's. InvalidArgumentError names the file or the context that is wrong."""
    try:
        import yaml
    except ImportError:
        raise InvalidArgumentError("reading the SDK's config file needs PyYAML (pip install pyyaml)") from None
    file = Path(path) if path is not None else DEFAULT_PATH
    try:
        config: Any = yaml.safe_load(file.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise InvalidArgumentError(f"the SDK's config file {file}: {error}") from None
    contexts = config.get("contexts") if isinstance(config, dict) else None
    if not isinstance(contexts, dict):
        raise InvalidArgumentError(f"the SDK's config file {file} has no contexts")
    name = context or config.get("current_context")
    chosen = contexts.get(name)
    if not isinstance(chosen, dict):
        raise InvalidArgumentError(f"the SDK's config file {file} has no context {name!r} "
                                   f"(it has {', '.join(map(str, contexts)) or 'none'})")
    written = chosen.get("env") or {}
    if not isinstance(written, dict):
        raise InvalidArgumentError(f"context {name!r} of {file}: its env is not a mapping")
    settings = dict(_DEFAULTS)
    for key, value in written.items():
        if isinstance(value, dict):
            continue
        variable = str(key).upper() if str(key).upper().startswith("CLARIFAI_") else "CLARIFAI_" + str(key).upper()
        if value == "ENVVAR" and variable not in os.environ:
            raise InvalidArgumentError(f"context {name!r} of {file} takes {variable} from the environment, where it is unset")
        settings[variable] = str(value)
    settings.update({variable: value for variable, value in os.environ.items() if variable.startswith("CLARIFAI_")})
    return settings  # (the environment wins, as with the SDK)
