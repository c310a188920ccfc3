"""Compose files in: a `compose.yaml` read with the line of every key (PyYAML's node tree),
interpolated as Compose does (`${VAR}`, `${VAR:-default}`, the environment over `.env`), and
mapped onto profile services of kind `container`. Every key it cannot honour is a Problem at
its file:line, never dropped silently. Pure: no process, no engine (below `_config`)."""
