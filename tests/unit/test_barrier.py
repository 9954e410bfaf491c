import pytest

from vaultlet.errors import Sealed
from vaultlet.storage.barrier import Barrier, BarrierError, SecureStore, generate_key
from vaultlet.storage.sql import SQLStorage, one_level


@pytest.fixture()
def storage(tmp_path):
    store = SQLStorage(f"sqlite:///{tmp_path}/test.db")
    yield store
    store.close()


def test_values_round_trip_and_are_not_plaintext_on_disk(storage, tmp_path):
    barrier = Barrier(storage)
    key = generate_key()
    barrier.initialize(key)
    assert barrier.unseal(key)
    store = SecureStore(barrier)
    store.put("secret/x", {"password": "SENTINEL-PLAINTEXT-42"})
    assert store.get("secret/x") == {"password": "SENTINEL-PLAINTEXT-42"}
    storage.close()
    for path in tmp_path.iterdir():
        assert b"SENTINEL-PLAINTEXT-42" not in path.read_bytes()


def test_wrong_root_key_keeps_it_sealed(storage):
    barrier = Barrier(storage)
    barrier.initialize(generate_key())
    assert barrier.unseal(generate_key()) is False
    with pytest.raises(Sealed):
        barrier.encrypt("k", b"v")


def test_ciphertext_is_bound_to_its_key(storage):
    barrier = Barrier(storage)
    key = generate_key()
    barrier.initialize(key)
    barrier.unseal(key)
    blob = barrier.encrypt("a", b"value")
    with pytest.raises(BarrierError):
        barrier.decrypt("b", blob)
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(BarrierError):
        barrier.decrypt("a", tampered)


def test_record_versions_and_compare_and_set(storage):
    assert storage.put("k", b"1") == 1
    assert storage.put("k", b"2") == 2
    assert storage.put_if_version("k", b"3", 1) is False
    assert storage.put_if_version("k", b"3", 2) is True
    assert storage.get("k") == (b"3", 3)
    assert storage.put_if_version("new", b"x", None) is True
    assert storage.put_if_version("new", b"y", None) is False


def test_cached_reads_see_writes_from_another_handle(storage, tmp_path):
    key = generate_key()
    first = Barrier(storage)
    first.initialize(key)
    first.unseal(key)
    other_storage = SQLStorage(f"sqlite:///{tmp_path}/test.db")
    second = Barrier(other_storage)
    second.unseal(key)
    reader, writer = SecureStore(first), SecureStore(second)
    writer.put("core/mounts", {"v": 1})
    assert reader.cached("core/mounts") == {"v": 1}
    writer.put("core/mounts", {"v": 2})
    assert reader.cached("core/mounts") == {"v": 2}
    other_storage.close()


def test_one_level_listing():
    keys = ["p/a", "p/b/c", "p/b/d", "p/e/f/g", "p/"]
    assert one_level("p/", keys) == ["a", "b/", "e/"]
