"""Groups from Python: SatchelClient's group calls against a real relay, and the low-level
GroupSession (sender keys, bytes in and bytes out)."""

import asyncio
import hashlib
import os

import pytest
from conftest import REGISTRATION_TOKEN
from satchel import (DecryptFailure, GroupKind, GroupSession, Role, SatchelClient,
                     SatchelError)


def run(coroutine):
    return asyncio.run(coroutine)


def client(home, name):
    return SatchelClient(home(name), hashlib.sha256(name.encode()).digest(), None)


def test_class_group_announcement_and_teachers_of_a_class(relay_url, home):
    admin = client(home, "admin")
    run(admin.create_school("Hillside Primary", relay_url, REGISTRATION_TOKEN))
    people = {}
    for name, role, folder in [("Ms Rivera", Role.TEACHER, "teacher"),
                               ("Sam Parent", Role.PARENT, "mum"),
                               ("Alex Parent", Role.PARENT, "dad")]:
        people[folder] = client(home, folder)
        run(people[folder].join(run(admin.invite(role, name, ["5B"]))))
    run(admin.sync())  # the office confirms all three
    teacher, mum, dad = people["teacher"], people["mum"], people["dad"]

    group = run(teacher.create_group(GroupKind.CLASS_GROUP, "5B"))
    assert (group.title, group.people, group.created_by_me) == ("Class 5B", 3, True)
    assert run(teacher.send_to_group(group.id, "Swimming is cancelled")) is True
    for parent in (mum, dad):
        got = run(parent.sync())
        assert [(m.sender_name, m.verified, m.text, m.group) for m in got] == [
            ("Ms Rivera", True, "Swimming is cancelled", "Class 5B")]
    with pytest.raises(SatchelError.NotAllowedInGroup):
        run(mum.send_to_group(group.id, "me too"))
    with pytest.raises(SatchelError.UnknownGroup):
        run(mum.group_history("no such group"))

    after = run(teacher.group_remove(group.id, "Alex Parent"))
    assert after.people == 2
    run(teacher.send_to_group(group.id, "Bring a towel"))
    assert run(dad.sync()) == []
    assert not run(dad.groups())[0].active
    assert [m.text for m in run(mum.sync())] == ["Bring a towel"]
    assert [m.text for m in run(mum.group_history(group.id))] == [
        "Swimming is cancelled", "Bring a towel"]

    run(teacher.announce("5B", "Photos on Monday"))
    got = run(mum.sync())
    assert [(m.text, m.group) for m in got] == [("Photos on Monday", "5B announcements")]
    run(dad.sync())
    run(dad.set_read_receipts(False))
    assert run(dad.mark_group_read(got[0].group_id)) == 0
    assert run(mum.mark_group_read(got[0].group_id)) == 1
    run(teacher.sync())
    sent = run(teacher.group_history(got[0].group_id))
    assert [(m.read_by, m.read_of) for m in sent] == [(1, 2)]

    run(mum.send_to_class_team("5B", "Is the trip still on?"))
    got = run(teacher.sync())
    assert [(m.sender_name, m.text, m.group) for m in got] == [
        ("Sam Parent", "Is the trip still on?", "Teachers of 5B")]
    assert len(run(teacher.groups())) == 3


def test_group_session_bytes_in_bytes_out():
    group_id = os.urandom(16)
    teacher = GroupSession(group_id, b"\x01" * 32, 1_767_225_600)
    parent = GroupSession(group_id, b"\x02" * 32, 1_767_225_600)
    assert parent.receive_distribution(b"\x01" * 32, teacher.distribution()) is True
    # A key passed off as another device's is refused.
    with pytest.raises(SatchelError.CorruptedMessage):
        parent.receive_distribution(b"\x03" * 32, teacher.distribution())

    wire = [teacher.encrypt(f"notice {i}".encode(), 1_767_225_600) for i in range(20)]
    read = parent.decrypt(wire[0])
    assert (read.sender, read.index, read.plaintext) == (b"\x01" * 32, 0, b"notice 0")
    with pytest.raises(SatchelError.Duplicate):
        parent.decrypt(wire[0])

    # Catching up: one batch, a typed failure per message.
    tampered = bytearray(wire[5])
    tampered[-1] ^= 1
    batch = wire[1:5] + [bytes(tampered)] + wire[5:] + [wire[1]]
    results = parent.decrypt_batch(batch)
    assert [r.message.plaintext for r in results[:4]] == [f"notice {i}".encode() for i in range(1, 5)]
    assert results[4].message is None and results[4].failure == DecryptFailure.CORRUPTED
    assert [r.message.index for r in results[5:-1]] == list(range(5, 20))
    assert results[-1].failure == DecryptFailure.DUPLICATE

    # A new member reads nothing sent before; after a removal and a rotation the removed
    # member reads nothing new.
    newcomer = GroupSession(group_id, b"\x04" * 32, 1_767_225_600)
    newcomer.receive_distribution(b"\x01" * 32, teacher.distribution())
    with pytest.raises(SatchelError.Duplicate):
        newcomer.decrypt(wire[3])
    fresh = teacher.rotate(1_767_225_600)
    newcomer.receive_distribution(b"\x01" * 32, fresh)
    after = teacher.encrypt(b"after the removal", 1_767_225_600)
    assert newcomer.decrypt(after).plaintext == b"after the removal"
    with pytest.raises(SatchelError.NoKeyYet):
        parent.decrypt(after)

    restored = GroupSession.from_bytes(newcomer.to_bytes())
    assert restored.to_bytes() == newcomer.to_bytes()
    with pytest.raises(SatchelError.CorruptedState):
        GroupSession.from_bytes(b"\x00garbage")
    with pytest.raises(SatchelError.InvalidInput):
        GroupSession(b"short", b"\x01" * 32, 0)
