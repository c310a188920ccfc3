"""The README's Containers example, run as written: the image built from its Dockerfile (no
registry), the profile that mixes it with PostgreSQL from its wheel and a command, `stack up`,
`stack exec` fetching the container's page through its endpoint, `stack down`, all graceful,
no container left."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .readme import blocks, section

pytestmark = pytest.mark.slow

BIN = str(Path(sys.executable).parent)


def test_the_containers_example_runs_as_written(
    tmp_path: Path, docker_url: str, docker_client: Any
) -> None:
    text = section("## Containers")
    setup, run = blocks(text, "bash")[:2]
    [profile] = blocks(text, "toml")[:1]
    assert profile.startswith("# profiles/mixed.toml\n")
    env = {**os.environ, "DOCKER_HOST": docker_url, "PATH": f"{BIN}:{os.environ['PATH']}"}
    subprocess.run(["bash", "-euc", setup], cwd=tmp_path, env=env, check=True, timeout=60)
    (tmp_path / "profiles" / "mixed.toml").write_text(profile)
    said = []
    try:
        for line in run.strip().splitlines():
            done = subprocess.run(
                ["bash", "-euc", line],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, (line, done.stdout, done.stderr)
            said.append(done.stdout)
    finally:
        subprocess.run([f"{BIN}/stack", "down", "-p", "mixed"], cwd=tmp_path, env=env, timeout=120)
        made = built(docker_client, tmp_path)  # (by its tag and its project's label: ours)
        for image in made:
            docker_client.images.remove(image.id, force=True)
    assert "hello from a container" in said[1]
    assert "stopped 3 services gracefully" in said[2]
    events = [
        json.loads(e) for e in (tmp_path / ".stack/mixed/events.jsonl").read_text().splitlines()
    ]
    [site] = [e for e in events if e.get("service") == "site" and e.get("to") == "stopped"]
    assert site["graceful"] and site["exit_codes"] == [0]
    project = {"label": f"io.stackfixtures.project={tmp_path}"}
    assert docker_client.containers.list(all=True, sparse=True, filters=project) == []
    assert len(made) == 1 and built(docker_client, tmp_path) == []  # its image removed too


def built(client: Any, root: Path) -> list[Any]:
    """The images the README's build made for the project at `root`: tagged
    stackfixtures-build/site:* and labelled with the project."""
    project = {"label": f"io.stackfixtures.project={root}"}
    return [
        image
        for image in client.images.list(filters=project)
        if any(tag.startswith("stackfixtures-build/site:") for tag in image.tags)
    ]
