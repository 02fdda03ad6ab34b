"""Issue 2 §2: DATABASE_URL or an embedded server; the tests run on their own server."""

from __future__ import annotations

import os

import pytest
from django.db import connection

from central.database import database_url, parse_database_url


def test_parse_database_url_tcp_and_socket():
    assert parse_database_url("postgresql://u:p%40ss@db.example:6543/records") == {
        "NAME": "records",
        "USER": "u",
        "PASSWORD": "p@ss",
        "HOST": "db.example",
        "PORT": "6543",
    }
    assert parse_database_url("postgresql://postgres:@/postgres?host=/tmp/pg")["HOST"] == "/tmp/pg"
    with pytest.raises(ValueError, match="postgresql://"):
        parse_database_url("mysql://x@y/z")


@pytest.mark.parametrize(
    "url",
    ["postgresql://u:p%40ss@db.example:6543/records", "postgresql://postgres@/app?host=/tmp/pg"],
)
def test_database_url_round_trips(url):
    assert parse_database_url(database_url(parse_database_url(url))) == parse_database_url(url)


def test_tests_use_their_own_server_and_database():
    name = connection.settings_dict["NAME"]
    assert name.startswith("test_")
    if not os.environ.get("DATABASE_URL"):
        # The throwaway embedded server lives in a temporary directory, not .data/.
        host = connection.settings_dict["HOST"]
        assert ".data" not in host
        assert os.environ["PLATFORM_PG_DATA"] in host or host.startswith("/tmp")
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        assert int(cursor.fetchone()[0].split(".")[0]) >= 14
