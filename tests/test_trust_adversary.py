"""Issue 21 tried as an adversary would, after its parts were built: each test here is a way
past a promise that the first tests of those parts did not try (an encoded secret, a planted
marker, a directory swapped while `clean` runs, ...)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .conftest import PY

# A password with what encoders change: a quote, a backslash, `$`, a slash, a plus, a space,
# an ampersand and a non-ASCII letter.
SECRET = 'S3cr"et\\Pa$$wörd/+ &x'

PRINTS_ENCODED = """
import json, os, time, urllib.parse
p = os.environ["APP_PASSWORD"]
print("quoted", urllib.parse.quote(p, safe=""), flush=True)
print("plus", urllib.parse.quote_plus(p), flush=True)
print("json", json.dumps({"password": p}), flush=True)
print("json-utf8", json.dumps({"password": p}, ensure_ascii=False), flush=True)
print("repr", repr(p), flush=True)
print("done", flush=True)
time.sleep(60)
"""


async def test_a_password_printed_encoded_is_masked_in_the_log_file(
    tmp_path: Path, make_stack: Any
) -> None:
    """A service that logs its settings as JSON (structured logging), or builds a URL of its
    own, writes its password escaped or percent-encoded: that is the password too."""
    (tmp_path / "app.py").write_text(PRINTS_ENCODED)
    toml_secret = SECRET.replace("\\", "\\\\").replace('"', '\\"')
    stack = await make_stack(
        tmp_path,
        f"""
[services.app]
command = ["{PY}", "app.py"]
cwd = "{tmp_path}"
env = {{ APP_PASSWORD = "{toml_secret}" }}
ready = {{ log = "done" }}
""",
    )
    await stack.start(["app"])
    await stack.close()
    log = (tmp_path / "state" / "logs" / "app.log").read_text()
    lines = {line.split(" ", 1)[0]: line for line in log.splitlines() if " " in line}
    for form in ("quoted", "plus", "json", "json-utf8", "repr"):
        assert "***" in lines[form], (form, lines[form])
    assert "Pa$$w" not in log and "Pa%24%24w" not in log and "Pa%24%24w" not in log, log
