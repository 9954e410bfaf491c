"""The file device's sink: whole lines, file modes, rotation, discard, and failures that surface."""

from __future__ import annotations

import stat

import pytest

from vaultlet.core.audit.sink import FileSink


def test_lines_are_appended_and_the_file_is_private(tmp_path):
    path = tmp_path / "logs" / "audit.log"  # the directory is created on first use
    sink = FileSink(str(path), 0o600)
    sink.write(b'{"a":1}\n')
    sink.write(b'{"b":2}\n')
    assert path.read_bytes() == b'{"a":1}\n{"b":2}\n'
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    sink.close()


def test_a_rotated_or_deleted_file_is_reopened(tmp_path):
    path = tmp_path / "audit.log"
    sink = FileSink(str(path), 0o600)
    sink.write(b"first\n")
    path.rename(tmp_path / "audit.log.1")  # logrotate's move
    sink.write(b"second\n")
    path.unlink()
    sink.write(b"third\n")
    assert (tmp_path / "audit.log.1").read_bytes() == b"first\n"
    assert path.read_bytes() == b"third\n"
    sink.close()


def test_a_path_that_cannot_be_written_raises(tmp_path):
    path = tmp_path / "audit.log"
    sink = FileSink(str(path), 0o600)
    sink.write(b"ok\n")
    path.unlink()
    path.mkdir()  # replaced by a directory: the next write must fail, not vanish
    with pytest.raises(OSError):
        sink.write(b"lost\n")
    with pytest.raises(OSError):
        FileSink("/dev/full", 0).write(b"x\n")


def test_discard_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # "discard" is a keyword, not a file name
    FileSink("discard", 0o600).write(b"x\n")
    assert list(tmp_path.iterdir()) == []
