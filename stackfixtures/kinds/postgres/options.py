"""The postgres kinds' options: the keys a profile may set on `kind = "postgres"` and
`kind = "postgres_db"`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ..from_image_options import FromImage

NOT_OURS = ("postgres", "template0", "template1")
"""Databases every PostgreSQL server has: a template build never takes one of their names."""


class TemplateSpec(BaseModel):
    """What each test's database is cloned from, built in this order: `schema_file`, then the
    `after` tasks (run against it, once they completed on `dbname`), then `hook`. Rebuilt when
    any of them (the file's content, the tasks' fingerprints, the hook's module) changed."""

    model_config = ConfigDict(extra="forbid")

    after: list[str] = Field(
        default=[], description="tasks (e.g. migrations) run against it, in this order"
    )
    schema_file: str | None = Field(
        default=None, description="an SQL file, relative to the project root, run in it"
    )
    hook: str | None = Field(
        default=None, description='"module:function", called with its dsn (may be async)'
    )
    name: str = Field(default="stackfixtures_template", description="its database's name")

    @field_validator("name")
    @classmethod
    def _its_own(cls, name: str) -> str:
        if name in NOT_OURS:
            raise ValueError(
                f"{name!r} is not a database of its own (every server has one): the template "
                "build replaces the database of this name; choose another"
            )
        return name


class PostgresConfig(FromImage):
    model_config = ConfigDict(extra="forbid")
    LOCAL_ONLY = ("bin_dir", "run_as", "memory")

    bin_dir: str | None = None
    # where to look when bin_dir is unset; "container": an image (`image`, `tag`, `engine`)
    source: Literal["auto", "system", "wheel", "container"] = "auto"
    user: str = "postgres"
    dbname: str = "postgres"
    password: str | None = None  # then password (SCRAM) authentication instead of trust
    settings: dict[str, str | int | float | bool] = {}
    run_as: str | None = None  # the OS user when started as root (default: postgres or nobody)
    template: TemplateSpec | None = None

    @field_validator("template")
    @classmethod
    def _not_dbname(cls, spec: TemplateSpec | None, info: ValidationInfo) -> TemplateSpec | None:
        dbname = info.data.get("dbname")
        if spec is not None and spec.name == dbname:
            raise ValueError(
                f"its name {dbname!r} is the server's own database (`dbname`), which the "
                "template build would replace; give `template.name` another name"
            )
        return spec

    cache: bool = True  # copy a cached initdb instead of running initdb for each new instance
    # The data dir on a tmpfs (kinds/postgres/memory_root.py) instead of disk: a clone
    # per test costs memory, not the filesystem. Lost on reboot; the initdb cache stays on disk.
    memory: bool = False


class PostgresDbConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # PostgreSQL 15+: FILE_COPY copies the template's files (two checkpoints, no WAL);
    # WAL_LOG writes it through the WAL. bench/services.py measures both.
    strategy: Literal["file_copy", "wal_log"] = "file_copy"
    # Clones kept ready ahead of the tests that take them, at most (the pool grows to it while
    # tests take clones faster than they are made); 0: each clone made when a test asks.
    pool: int = Field(default=8, ge=0, le=64)


class TemplateBuild(BaseModel):
    """What the project hands the builder (not written in profiles)."""

    model_config = ConfigDict(extra="forbid")

    server: str  # the postgres service it belongs to
    template: TemplateSpec
    identity: str  # hex digest of `parts`
    parts: dict[str, str]  # what it is made of ("schema file schema.sql") -> its digest
