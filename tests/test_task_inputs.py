"""A task's inputs: the files its command names (not those it writes) and those its `watch`
patterns match are part of its fingerprint, so a template taken after it is rebuilt when they
change."""

from __future__ import annotations

from pathlib import Path

from stackfixtures import _project as projects

from .conftest import write_project


def test_a_task_fingerprint_covers_its_input_files(tmp_path: Path) -> None:
    (tmp_path / "schema.sql").write_text("CREATE TABLE a (id int);\n")
    write_project(
        tmp_path,
        """
[services.db]
kind = "postgres"

[services.seed]
command = ["psql", "${db.dsn}", "-f", "schema.sql"]
depends_on = ["db"]
task = true

[services.migrate]
command = ["alembic", "upgrade", "head"]
depends_on = ["db"]
task = true
watch = ["migrations/**/*.py"]

[services.dump]                       # files it writes are no inputs: it would rerun forever
command = ["pg_dump", "${db.dsn}", "-f", "snapshot.sql", "--output=out.json", "-o", "o.txt"]
depends_on = ["db"]
task = true
""",
    )
    for written in ("snapshot.sql", "out.json", "o.txt"):
        (tmp_path / written).write_text("written by the task\n")

    def prints() -> dict[str, str]:
        return projects.fingerprints(projects.load("dev", root=tmp_path).graph, tmp_path)

    before = prints()
    (tmp_path / "schema.sql").write_text("CREATE TABLE a (id int, b int);\n")
    after_schema = prints()
    assert after_schema["seed"] != before["seed"]  # the file its command names
    assert after_schema["migrate"] == before["migrate"] and after_schema["db"] == before["db"]
    (tmp_path / "migrations" / "versions").mkdir(parents=True)
    (tmp_path / "migrations" / "versions" / "001_a.py").write_text("revision = '001'\n")
    assert prints()["migrate"] != after_schema["migrate"]  # a file its `watch` matches
    for written in ("snapshot.sql", "out.json", "o.txt"):
        (tmp_path / written).write_text("written again\n")
    assert prints()["dump"] == before["dump"]
