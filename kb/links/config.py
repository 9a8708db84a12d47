"""The link checker's committed settings (`linkcheck.yaml` at the repository root): exclusions and per-host manners.

Secrets never live in the file: a host names the environment variable that holds its token (`token_env:
GITHUB_TOKEN`), the token is read when a request is built and sent only to that host, only over https, and it
appears in no result, cache or report.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kb import paths
from kb.catalog.yamlio import load_yaml

DEFAULT_CONFIG = paths.LINKCHECK_CONFIG
DEFAULT_USER_AGENT = "efficient-dnn-kb-linkcheck/0.1 (link checker of the Efficient DNN KB)"


class HostSettings(BaseModel):
    """How to treat one host; keys of `hosts:` are a host name or `*.domain` for every host below a domain."""

    model_config = ConfigDict(extra="forbid")

    min_interval: float = Field(
        default=0.0, ge=0, description="Seconds between the starts of two requests to this host (politeness)."
    )
    per_host: int | None = Field(
        default=None, ge=1, description="At most this many requests in flight to this host (overrides --per-host)."
    )
    head: bool = Field(default=True, description="False for hosts that mishandle HEAD: send a GET straight away.")
    accept: list[int] = Field(default_factory=list, description="Extra status codes that count as ok for this host.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra request headers for this host.")
    token_env: str | None = Field(
        default=None,
        description="Environment variable holding a token sent as `Authorization: Bearer` to this host over https.",
    )


class LinkConfig(BaseModel):
    """The whole file."""

    model_config = ConfigDict(extra="forbid")

    user_agent: str = Field(default=DEFAULT_USER_AGENT, min_length=8, description="User-Agent naming the project.")
    exclude: list[str] = Field(
        default_factory=list, description="Regular expressions; a URL that any of them finds (re.search) is skipped."
    )
    hosts: dict[str, HostSettings] = Field(default_factory=dict, description="Settings per host.")

    @field_validator("exclude")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"exclude pattern {pattern!r} is no regular expression: {error}") from None
        return value

    def for_host(self, host: str) -> HostSettings:
        """The settings of `host`: its own entry, else the longest matching `*.domain` entry, else defaults."""
        if host in self.hosts:
            return self.hosts[host]
        wildcards = [key for key in self.hosts if key.startswith("*.") and host.endswith(key[1:])]
        return self.hosts[max(wildcards, key=len)] if wildcards else HostSettings()

    def excluded_by(self, url: str) -> str | None:
        """The first exclude pattern that matches `url`, or None."""
        return next((pattern for pattern in self.exclude if re.search(pattern, url)), None)

    def headers_for(self, host: str, scheme: str) -> dict[str, str]:
        """The extra headers of a request to `host`; the token only over https, and only when it is set."""
        settings = self.for_host(host)
        headers = dict(settings.headers)
        token = os.environ.get(settings.token_env, "") if settings.token_env else ""
        if token and scheme == "https":
            headers["Authorization"] = f"Bearer {token}"
        return headers


def load_link_config(path: Path | None = DEFAULT_CONFIG) -> LinkConfig:
    """Read the settings file; no path (or a missing default file) gives the defaults.

    Raises:
        ValueError: When the file does not match `LinkConfig`, with the field and line.
    """
    if path is None or (path == DEFAULT_CONFIG and not path.exists()):
        return LinkConfig()
    located = load_yaml(path)
    try:
        return LinkConfig.model_validate(located.data or {})
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
