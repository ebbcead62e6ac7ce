"""The directory key file and sealing (store.crypto.sealing), against real files in tmp_path."""

from __future__ import annotations

import base64
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.crypto import (
    DirectoryKey,
    KeyFileError,
    KeyRing,
    UnsealError,
    audit_mac_key,
    create_key_file,
    load_key,
    needs_reseal,
    reseal,
    rotate_key_file,
    seal,
    sealed_key_id,
    unseal,
)

AD = b"totp:user:42"
PLAINTEXT = b"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return tmp_path / "directory.db.key"


@pytest.fixture
def umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _material_forms(key: DirectoryKey) -> list[str]:
    m = key.material
    return [m.hex(), repr(m), base64.b64encode(m).decode(), base64.urlsafe_b64encode(m).decode().rstrip("=")]


# --- the key file -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o077, 0o277], ids=oct)
def test_key_file_is_0600_whatever_the_umask(key_path: Path, umask: None, mask: int) -> None:
    os.umask(mask)
    ring = create_key_file(key_path)
    assert _mode(key_path) == 0o600
    assert load_key(key_path) == ring


def test_key_file_holds_one_256_bit_key_and_leaves_nothing_else_behind(key_path: Path) -> None:
    ring = create_key_file(key_path)
    assert len(ring.keys) == 1 and len(ring.current.material) == 32
    assert os.listdir(key_path.parent) == [key_path.name]
    text = key_path.read_text("ascii")
    assert text.startswith("# tui directory key")
    assert base64.urlsafe_b64encode(ring.current.material).decode() in text


def test_two_key_files_hold_different_keys(tmp_path: Path) -> None:
    first = create_key_file(tmp_path / "a.key")
    second = create_key_file(tmp_path / "b.key")
    assert first.current.material != second.current.material
    assert first.current.key_id != second.current.key_id


def test_existing_file_is_never_overwritten(key_path: Path) -> None:
    key_path.write_bytes(b"precious")
    with pytest.raises(KeyFileError, match="already exists"):
        create_key_file(key_path)
    assert key_path.read_bytes() == b"precious"


def test_existing_key_file_is_never_overwritten(key_path: Path) -> None:
    ring = create_key_file(key_path)
    with pytest.raises(KeyFileError, match="already exists"):
        create_key_file(key_path)
    assert load_key(key_path) == ring


def test_dangling_symlink_is_not_followed(tmp_path: Path, key_path: Path) -> None:
    target = tmp_path / "elsewhere"
    key_path.symlink_to(target)
    with pytest.raises(KeyFileError, match="already exists"):
        create_key_file(key_path)
    assert not target.exists()


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="does not exist"):
        create_key_file(tmp_path / "nope" / "x.key")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o610, 0o602], ids=oct)
def test_key_file_open_to_group_or_others_is_refused(key_path: Path, mode: int) -> None:
    ring = create_key_file(key_path)
    os.chmod(key_path, mode)
    with pytest.raises(KeyFileError) as caught:
        load_key(key_path)
    message = str(caught.value)
    assert str(key_path) in message and f"{mode:04o}" in message and "chmod 600" in message
    assert not any(form in message for form in _material_forms(ring.current))


def test_owner_only_modes_are_accepted(key_path: Path) -> None:
    create_key_file(key_path)
    os.chmod(key_path, 0o400)
    assert load_key(key_path).current.key_id


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to give the file away"
)
def test_key_file_owned_by_another_user_is_refused(key_path: Path) -> None:
    create_key_file(key_path)
    os.chown(key_path, 54321, -1)
    with pytest.raises(KeyFileError, match="another user"):
        load_key(key_path)


def test_missing_key_file(key_path: Path) -> None:
    with pytest.raises(KeyFileError, match="does not exist"):
        load_key(key_path)


def test_directory_is_not_a_key_file(tmp_path: Path) -> None:
    folder = tmp_path / "dir.key"
    folder.mkdir(mode=0o700)
    with pytest.raises(KeyFileError, match="not a regular file"):
        load_key(folder)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "holds no key"),
        (b"# only a comment\n", "holds no key"),
        (b"hello world\n", "not a tui key file"),
        (b"tui-key-v1 c2hvcnQ=\n", "damaged key"),
        (b"tui-key-v1 !!!!\n", "damaged key"),
        (b"\xff\xfe binary", "not a tui key file"),
    ],
)
def test_malformed_key_files_are_refused(key_path: Path, content: bytes, message: str) -> None:
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, content)
    os.close(fd)
    with pytest.raises(KeyFileError, match=message):
        load_key(key_path)


def test_raw_32_byte_file_of_another_tool_is_refused(key_path: Path) -> None:
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, os.urandom(32))
    os.close(fd)
    with pytest.raises(KeyFileError):
        load_key(key_path)


# --- sealing ------------------------------------------------------------------------------------------------


def test_seal_round_trip_and_format() -> None:
    key = DirectoryKey.generate()
    sealed = seal(key, PLAINTEXT, AD)
    version, key_id, body = sealed.split(".")
    assert (version, key_id) == ("tui1", key.key_id)
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert len(raw) == 12 + len(PLAINTEXT) + 16  # nonce, ciphertext, tag
    assert PLAINTEXT not in raw and PLAINTEXT.decode() not in sealed
    assert unseal(key, sealed, AD) == PLAINTEXT
    assert sealed_key_id(sealed) == key.key_id


def test_every_seal_uses_a_fresh_nonce() -> None:
    key = DirectoryKey.generate()
    sealed = {seal(key, PLAINTEXT, AD) for _ in range(100)}
    assert len(sealed) == 100
    nonces = {base64.urlsafe_b64decode(s.split(".")[2] + "==")[:12] for s in sealed}
    assert len(nonces) == 100


def test_empty_plaintext_round_trips() -> None:
    key = DirectoryKey.generate()
    assert unseal(key, seal(key, b"", b""), b"") == b""


def test_wrong_associated_data_is_refused() -> None:
    key = DirectoryKey.generate()
    sealed = seal(key, PLAINTEXT, AD)
    with pytest.raises(UnsealError, match="could not be opened"):
        unseal(key, sealed, b"totp:user:43")


def test_tampered_value_is_refused() -> None:
    key = DirectoryKey.generate()
    sealed = seal(key, PLAINTEXT, AD)
    version, key_id, body = sealed.split(".")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    for index in (0, 12, len(raw) - 1):  # nonce, ciphertext, tag
        altered = bytearray(raw)
        altered[index] ^= 0x01
        forged = f"{version}.{key_id}.{base64.urlsafe_b64encode(bytes(altered)).decode().rstrip('=')}"
        with pytest.raises(UnsealError, match="could not be opened"):
            unseal(key, forged, AD)


def test_another_key_cannot_open_it_and_says_which_key_is_needed() -> None:
    key, other = DirectoryKey.generate(), DirectoryKey.generate()
    sealed = seal(key, PLAINTEXT, AD)
    with pytest.raises(UnsealError) as caught:
        unseal(other, sealed, AD)
    assert key.key_id in str(caught.value)
    # Pretending the value was sealed by the other key does not help either.
    relabelled = sealed.replace(key.key_id, other.key_id, 1)
    with pytest.raises(UnsealError, match="could not be opened"):
        unseal(other, relabelled, AD)


@pytest.mark.parametrize(
    ("sealed", "message"),
    [
        ("", "malformed"),
        ("plain text", "malformed"),
        ("tui1.abcd1234", "malformed"),
        ("tui1.abcd1234.c2hvcnQ", "malformed"),
        ("tui1.abcd1234.!!!!", "malformed"),
        ("tui2.abcd1234." + "A" * 60, "unknown format version"),
    ],
)
def test_malformed_sealed_values(sealed: str, message: str) -> None:
    with pytest.raises(UnsealError, match=message):
        unseal(DirectoryKey.generate(), sealed, AD)


def test_errors_and_reprs_never_show_key_material_or_plaintext() -> None:
    key = DirectoryKey.generate()
    ring = KeyRing((DirectoryKey.generate(), key))
    for text in (repr(key), str(key), repr(ring)):
        assert key.key_id in text
        assert not any(form in text for form in _material_forms(key))
    sealed = seal(ring, PLAINTEXT, AD)
    with pytest.raises(UnsealError) as caught:
        unseal(ring, sealed, b"other")
    assert PLAINTEXT.decode() not in str(caught.value) and caught.value.__cause__ is None


def test_key_must_be_256_bits() -> None:
    with pytest.raises(KeyFileError):
        DirectoryKey(b"\x00" * 16)


# --- rotation -----------------------------------------------------------------------------------------------


def test_rotation_adds_a_current_key_and_old_values_still_open(key_path: Path) -> None:
    original = create_key_file(key_path)
    old_sealed = seal(original, PLAINTEXT, AD)
    rotated = rotate_key_file(key_path)
    assert _mode(key_path) == 0o600
    assert rotated.keys[0] == original.current and len(rotated.keys) == 2
    assert rotated.current != original.current
    reloaded = load_key(key_path)
    assert reloaded == rotated
    assert unseal(reloaded, old_sealed, AD) == PLAINTEXT
    assert needs_reseal(reloaded, old_sealed)
    fresh = reseal(reloaded, old_sealed, AD)
    assert sealed_key_id(fresh) == rotated.current.key_id and not needs_reseal(reloaded, fresh)
    assert unseal(reloaded, fresh, AD) == PLAINTEXT
    # New values are sealed with the new key, which the old ring does not have.
    with pytest.raises(UnsealError, match=rotated.current.key_id):
        unseal(original, seal(reloaded, PLAINTEXT, AD), AD)
    assert sorted(os.listdir(key_path.parent)) == [key_path.name]


def test_rotation_refuses_an_unsafe_key_file(key_path: Path) -> None:
    create_key_file(key_path)
    os.chmod(key_path, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        rotate_key_file(key_path)
    with pytest.raises(KeyFileError, match="does not exist"):
        rotate_key_file(key_path.with_name("missing.key"))


def test_concurrent_rotations_lose_no_key(key_path: Path) -> None:
    original = create_key_file(key_path)
    results: list[KeyRing] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def rotate() -> None:
        try:
            barrier.wait()
            results.append(rotate_key_file(key_path))
        except Exception as error:  # noqa: BLE001 - collected and asserted on below
            errors.append(error)

    threads = [threading.Thread(target=rotate) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    final = load_key(key_path)
    assert len(final.keys) == 7 and final.keys[0] == original.current
    assert len({key.key_id for key in final.keys}) == 7
    for ring in results:
        assert final.keys[: len(ring.keys)] == ring.keys
    assert sorted(os.listdir(key_path.parent)) == [key_path.name]


# --- audit chain key
# ------------------------------------------------------------------------------------------


def test_audit_mac_key_is_a_separate_stable_256_bit_subkey(key_path: Path) -> None:
    ring = create_key_file(key_path)
    mac_key = audit_mac_key(ring)
    assert len(mac_key) == 32
    assert mac_key == audit_mac_key(load_key(key_path)) == audit_mac_key(ring.current)
    assert mac_key != ring.current.material
    assert mac_key != audit_mac_key(DirectoryKey.generate())
    # The audit key cannot open sealed values: it is not the sealing key.
    sealed = seal(ring, PLAINTEXT, AD)
    with pytest.raises(UnsealError):
        unseal(DirectoryKey(mac_key), sealed.replace(ring.current.key_id, DirectoryKey(mac_key).key_id), AD)
