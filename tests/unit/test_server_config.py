"""The serving settings of a server config: the HTTP server, workers and threads."""

from __future__ import annotations

import pytest

from vaultlet import config


def _load(tmp_path, settings: str) -> config.ServerConfig:
    path = tmp_path / "server.hcl"
    path.write_text(
        f'storage "sqlite" {{ path = "db" }}\nlistener "tcp" {{ tls_disable = true }}\n{settings}\n'
    )
    return config.load(str(path))


def test_default_serving_model_is_granian_with_two_workers_of_32_threads(tmp_path):
    loaded = _load(tmp_path, "")
    assert (loaded.http_server, loaded.workers, loaded.threads) == ("granian", 2, 32)


def test_gunicorn_remains_selectable(tmp_path):
    loaded = _load(tmp_path, 'http_server = "gunicorn"\nworkers = 4\nthreads = 1')
    assert (loaded.http_server, loaded.workers, loaded.threads) == ("gunicorn", 4, 1)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ('http_server = "uvicorn"', "unknown http_server 'uvicorn' (use granian or gunicorn)"),
        ("threads = 0", "threads must be a positive integer"),
        ("workers = -1", "workers must be a positive integer"),
        ('workers = "many"', "workers must be a positive integer"),
    ],
)
def test_bad_serving_settings_are_refused(tmp_path, settings, message):
    with pytest.raises(config.ConfigError) as raised:
        _load(tmp_path, settings)
    assert str(raised.value) == message
