"""`stack env`: the endpoints of a running stack as environment variables, for a shell, a
`.env` file or an IDE (apart from `stack exec`, which loads `stack run`'s options: `env` is an
operating command, and imports only what talking to a running launcher needs)."""

from __future__ import annotations

import click

from .common import check_names, control_for, main, profile_option, state_dir_option


@main.command(name="env")
@profile_option
@state_dir_option
@click.option("--service", "-s", "services", multiple=True, help="Only these services.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["sh", "dotenv", "docker", "json"]),
    default="sh",
    show_default=True,
    help='sh: export lines for `eval "$(stack env)"`; dotenv: a .env file for `set -a; . '
    "./.env` and python-dotenv (quoted); docker: for `docker run --env-file` (unquoted: docker "
    "reads values as they are); json.",
)
def env_command(
    profile: str | None, state_dir: str | None, services: tuple[str, ...], fmt: str
) -> None:
    """The running stack's endpoints as environment variables: <NAME>_URL/_HOST/_PORT per
    service, the variables each kind's clients read (DATABASE_URL, PGHOST, REDIS_URL,
    NATS_URL, ...; off with `[stack] conventional_env = false`) and the profile's [stack.env].
    With --format sh, the names of `[stack] unset_env` are `unset` lines."""
    from .._control.environment import endpoint_env, render, unset

    with control_for(profile, state_dir) as control:
        status = control.status()
    check_names(services, [s["name"] for s in status["services"]])
    env, notes = endpoint_env(status, list(services) or None)
    text, more = render(env, fmt, unset(status))
    for note in notes + more:
        click.echo(f"# {note}", err=True)
    click.echo(text, nl=False)
