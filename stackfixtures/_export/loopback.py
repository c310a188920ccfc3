"""Commands that bind to loopback, rewritten to bind every address inside a container.

A process service listens on 127.0.0.1 (the stack's rule: ports on loopback only). Inside a
container loopback is the container's own: other containers, and the port published on the
host, would never reach it. So a listening flag's loopback value (`--host 127.0.0.1`,
`--bind=localhost:8000`, `-b [::1]:80`, also inside a `sh -c "..."` word) becomes 0.0.0.0.
Only the flags servers use to say where they listen: a client's `-h HOST` is left alone.
"""

from __future__ import annotations

import re

BIND_FLAGS = ("--host", "--bind", "-b", "--listen", "--bind-address", "--address", "--addr")
_LOOPBACK = r"(?:127\.0\.0\.1|localhost|\[::1\]|::1)"
_FLAG = "|".join(re.escape(f) for f in sorted(BIND_FLAGS, key=len, reverse=True))
_IN_TEXT = re.compile(rf"(?<![\w-])({_FLAG})(=|\s+)({_LOOPBACK})(?=[:\s'\"]|$)")
_ALONE = re.compile(rf"^{_LOOPBACK}(?=:\d+$|$)")
EVERY_ADDRESS = "0.0.0.0"


def rewrite(argv: list[str]) -> list[str]:
    """`argv` with each loopback address a listening flag names replaced by 0.0.0.0."""
    out: list[str] = []
    for i, word in enumerate(argv):
        if i and argv[i - 1] in BIND_FLAGS:
            word = _ALONE.sub(EVERY_ADDRESS, word)
        out.append(_IN_TEXT.sub(rf"\g<1>\g<2>{EVERY_ADDRESS}", word))
    return out
