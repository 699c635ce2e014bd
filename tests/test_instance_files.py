"""The instance folder's files: owner-only from the start, and one key however
many processes start at once (issue 9, item 10)."""

import multiprocessing
import stat
from pathlib import Path

from flask import Flask

from app import _derive_settings, _instance_secret

STARTING_AT_ONCE = 6


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _read_key_when_all_start(folder: str, barrier, keys) -> None:
    barrier.wait()
    keys.put(_instance_secret(Path(folder), "secret_key"))


def test_processes_starting_at_once_on_a_fresh_instance_read_the_same_key(tmp_path):
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(STARTING_AT_ONCE)
    keys = spawn.Queue()
    processes = [spawn.Process(target=_read_key_when_all_start, args=(str(tmp_path), barrier, keys))
                 for _ in range(STARTING_AT_ONCE)]
    for process in processes:
        process.start()
    read = [keys.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert len(set(read)) == 1 and len(read[0]) == 64
    assert [path.name for path in tmp_path.iterdir()] == ["secret_key"]  # no temporary file left
    assert _mode(tmp_path / "secret_key") == 0o600


def test_a_fresh_instance_folder_and_its_files_are_owner_only(tmp_path):
    instance = tmp_path / "instance"
    app = Flask(__name__, instance_path=str(instance))
    _derive_settings(app)
    assert _mode(instance) == 0o700
    assert {path.name: _mode(path) for path in instance.iterdir()} == {
        "opvang.db": 0o600, "secret_key": 0o600, "caller_hash_key": 0o600, "hotline_signing_token": 0o600}
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'opvang.db'}"
