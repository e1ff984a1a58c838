"""The low-level API from Python: Account, Session, SatchelError."""

import random

import pytest
import satchel
from satchel import Account, DecryptFailure, SatchelError, Session


def pair():
    """A teacher and a parent with a session each way, after the first message."""
    teacher, parent = Account(), Account()
    to_parent = teacher.start_session(parent.prekey_bundle())
    inbound = parent.accept_session(to_parent.encrypt(b"Hello from Ms Rivera"))
    assert inbound.plaintext == b"Hello from Ms Rivera"
    return teacher, parent, to_parent, inbound.session


def test_round_trip_both_ways():
    teacher, parent, to_parent, to_teacher = pair()
    for i in range(20):
        text = f"message {i}".encode()
        assert to_teacher.decrypt(to_parent.encrypt(text)) == text
        assert to_parent.decrypt(to_teacher.encrypt(text + b"!")) == text + b"!"
    assert teacher.safety_number(to_parent) == parent.safety_number(to_teacher)
    assert to_parent.peer_fingerprint() == parent.fingerprint()


def test_out_of_order_and_lost_messages():
    _, _, to_parent, to_teacher = pair()
    wire = [to_parent.encrypt(f"note {i}".encode()) for i in range(30)]
    order = list(range(30))
    random.Random(7).shuffle(order)
    lost = set(order[:5])
    for i in order:
        if i not in lost:
            assert to_teacher.decrypt(wire[i]) == f"note {i}".encode()
    # The conversation continues after the loss.
    assert to_parent.decrypt(to_teacher.encrypt(b"got them")) == b"got them"


def test_tampered_message_raises_and_leaves_the_session_unchanged():
    _, _, to_parent, to_teacher = pair()
    wire = to_parent.encrypt(b"Meet at the gate at 9")
    before = to_teacher.to_bytes()
    tampered = bytearray(wire)
    tampered[-1] ^= 1
    with pytest.raises(SatchelError.CorruptedMessage) as error:
        to_teacher.decrypt(bytes(tampered))
    assert "damaged" in str(error.value)
    assert to_teacher.to_bytes() == before
    assert to_teacher.decrypt(wire) == b"Meet at the gate at 9"


def test_duplicate_and_replayed_first_message():
    teacher, parent = Account(), Account()
    session = teacher.start_session(parent.prekey_bundle())
    first = session.encrypt(b"hi")
    inbound = parent.accept_session(first)
    with pytest.raises(SatchelError.Duplicate):
        parent.accept_session(first)
    wire = session.encrypt(b"again")
    assert inbound.session.decrypt(wire) == b"again"
    with pytest.raises(SatchelError.Duplicate):
        inbound.session.decrypt(wire)


def test_other_conversations_message_and_garbage():
    _, _, to_parent, to_teacher = pair()
    _, _, other, _ = pair()
    with pytest.raises(SatchelError.UnknownSession):
        to_teacher.decrypt(other.encrypt(b"not for you"))
    with pytest.raises(SatchelError.CorruptedMessage):
        to_teacher.decrypt(b"\x01")
    with pytest.raises(SatchelError.InvalidBundle):
        Account().start_session(b"not a bundle")


def test_state_persisted_and_restored_mid_conversation():
    teacher, parent, to_parent, to_teacher = pair()
    in_flight = to_parent.encrypt(b"sent before the restart")
    saved = (teacher.to_bytes(), parent.to_bytes(), to_parent.to_bytes(), to_teacher.to_bytes())
    del teacher, parent, to_parent, to_teacher

    teacher, parent = Account.from_bytes(saved[0]), Account.from_bytes(saved[1])
    to_parent = Session.from_bytes(saved[2])
    to_teacher = parent.restore_session(saved[3])
    assert to_teacher.decrypt(in_flight) == b"sent before the restart"
    assert to_parent.decrypt(to_teacher.encrypt(b"and after")) == b"and after"
    assert teacher.safety_number(to_parent) == parent.safety_number(to_teacher)


def test_corrupted_and_outdated_state():
    with pytest.raises(SatchelError.CorruptedState):
        Session.from_bytes(b"\x00garbage")
    with pytest.raises(SatchelError.CorruptedState):
        Account.from_bytes(b"")


def test_batches():
    _, _, to_parent, to_teacher = pair()
    texts = [f"batch {i}".encode() for i in range(50)]
    wire = to_parent.encrypt_batch(texts)
    wire[3] = wire[3][:-1] + bytes([wire[3][-1] ^ 1])
    results = to_teacher.decrypt_batch(wire)
    assert [r.plaintext for i, r in enumerate(results) if i != 3] == texts[:3] + texts[4:]
    assert results[3].plaintext is None and "damaged" in results[3].error
    assert results[3].failure == DecryptFailure.CORRUPTED
    # A too-large message fails the whole batch before anything is encrypted.
    before = to_parent.to_bytes()
    with pytest.raises(SatchelError.MessageTooLarge):
        to_parent.encrypt_batch([b"fine", b"x" * 10_000_000])
    assert to_parent.to_bytes() == before


def test_module_exports_only_the_documented_api():
    public = {name for name in dir(satchel) if not name.startswith("_")}
    for name in ["Account", "Session", "InboundSession", "SatchelClient", "SatchelError",
                 "Role", "Identity", "Contact", "Message", "DecryptResult",
                 "GroupSession", "GroupKind", "Group", "DecryptFailure"]:
        assert name in public
