"""The high-level SatchelClient from Python, against a real relay on loopback."""

import asyncio
import hashlib
import threading

import pytest
from conftest import REGISTRATION_TOKEN
from satchel import Role, SatchelClient, SatchelError


def run(coroutine):
    return asyncio.run(coroutine)


def key(name):
    """The store key an app would keep in the platform keystore (fixed per test person)."""
    return hashlib.sha256(name.encode()).digest()


def client(home, name):
    return SatchelClient(home(name), key(name), None)


def test_school_teacher_and_parent_talk(relay_url, home):
    admin = client(home, "admin")
    school = run(admin.create_school("Hillside Primary", relay_url, REGISTRATION_TOKEN))
    assert school.admin and school.role == Role.ADMIN

    teacher_code = run(admin.invite(Role.TEACHER, "Ms Rivera", ["5B"]))
    parent_code = run(admin.invite(Role.PARENT, "Sam Parent", ["5B"]))
    assert "\n" not in teacher_code

    teacher = client(home, "teacher")
    parent = client(home, "parent")
    me = run(teacher.join(teacher_code))
    assert (me.name, me.role, me.classes) == ("Ms Rivera", Role.TEACHER, ["5B"])
    assert me.school_id == school.school_id
    assert me.school_name == school.school_name == "Hillside Primary"
    run(parent.join(parent_code))
    assert run(parent.whoami()).name == "Sam Parent"
    # Until the office confirms her, the teacher sends nothing (and is told why).
    assert not me.admitted
    with pytest.raises(SatchelError.NotYetAdmitted):
        run(teacher.send("Sam Parent", "too early"))
    run(admin.sync())  # the office's sync confirms both

    contacts = {c.name: c for c in run(parent.contacts())}
    assert contacts["Ms Rivera"].verified and contacts["Ms Rivera"].role == Role.TEACHER

    assert run(teacher.send("Sam Parent", "The trip is on Friday.")) is True
    messages = run(parent.sync())
    assert [(m.sender_name, m.role, m.verified, m.text) for m in messages] == [
        ("Ms Rivera", Role.TEACHER, True, "The trip is on Friday.")
    ]
    assert messages[0].sent_at > 0 and not messages[0].outgoing
    assert run(parent.sync()) == []

    run(parent.send("Ms Rivera", "Thank you!"))
    assert [m.text for m in run(teacher.sync())] == ["Thank you!"]
    history = run(teacher.history("Sam Parent"))
    assert [(m.outgoing, m.text) for m in history] == [
        (True, "The trip is on Friday."),
        (False, "Thank you!"),
    ]

    with pytest.raises(SatchelError.InviteUsed):
        run(client(home, "second").join(parent_code))
    with pytest.raises(SatchelError.UnknownContact):
        run(teacher.send("Nobody", "hello"))
    with pytest.raises(SatchelError.NotAdmin):
        run(teacher.invite(Role.PARENT, "X", []))


def test_concurrent_calls_on_one_client(relay_url, home):
    admin = client(home, "admin")
    run(admin.create_school("Hillside Primary", relay_url, REGISTRATION_TOKEN))
    parent = client(home, "parent")
    run(parent.join(run(admin.invite(Role.PARENT, "Sam Parent", ["5B"]))))
    run(admin.sync())  # confirms her

    async def many():
        sends = [admin.send("Sam Parent", f"notice {i}") for i in range(5)]
        return await asyncio.gather(*sends, parent.sync(), parent.whoami())

    results = run(many())
    assert results[:5] == [True] * 5
    texts = [m.text for m in results[5]] + [m.text for m in run(parent.sync())]
    assert sorted(texts) == [f"notice {i}" for i in range(5)]


def test_errors_a_ui_can_act_on(home):
    fresh = client(home, "fresh")
    with pytest.raises(SatchelError.NotEnrolled):
        run(fresh.whoami())
    with pytest.raises(SatchelError.InvalidInvite):
        run(fresh.join("not an invite code"))
    with pytest.raises(SatchelError.Network) as error:
        run(fresh.create_school("Nowhere", "http://127.0.0.1:9"))
    assert "relay" in str(error.value)


def test_bad_arguments_are_invalid_input(relay_url, home):
    fresh = client(home, "fresh")
    with pytest.raises(SatchelError.InvalidInput) as error:
        run(fresh.create_school("Hillside Primary", "not a url"))
    assert "http" in str(error.value)
    with pytest.raises(SatchelError.NotEnrolled):
        run(fresh.whoami())  # the failed call left the folder unenrolled
    # Without the relay operator's registration token (the default), or with a wrong one.
    with pytest.raises(SatchelError.RegistrationRefused) as error:
        run(fresh.create_school("Hillside Primary", relay_url))
    assert "registration token" in str(error.value)
    with pytest.raises(SatchelError.RegistrationRefused):
        run(fresh.create_school("Hillside Primary", relay_url, "not-the-relay-token"))
    run(fresh.create_school("Hillside Primary", relay_url, REGISTRATION_TOKEN))
    with pytest.raises(SatchelError.InvalidInput):
        run(fresh.invite(Role.PARENT, "x" * 10_000, ["5B"]))
    code = run(fresh.invite(Role.PARENT, "Sam Parent", ["5B"]))
    assert code


def test_the_store_key_is_checked(relay_url, home):
    admin = client(home, "admin")
    run(admin.create_school("Hillside Primary", relay_url, REGISTRATION_TOKEN))
    with pytest.raises(SatchelError.WrongStoreKey):
        SatchelClient(home("admin"), key("someone else"), None)
    with pytest.raises(SatchelError.InvalidInput):
        SatchelClient(home("other"), b"short", None)
    assert client(home, "admin") is not None


def test_threads_and_two_clients_on_one_folder_lose_nothing(relay_url, home):
    admin = client(home, "admin")
    run(admin.create_school("Hillside Primary", relay_url, REGISTRATION_TOKEN))
    parent = client(home, "parent")
    run(parent.join(run(admin.invite(Role.PARENT, "Sam Parent", ["5B"]))))
    run(admin.sync())  # confirms her
    # Two client objects on the admin's folder (as an app and its notification
    # extension would have), each used from its own threads at once.
    second = client(home, "admin")
    errors = []

    def send(c, i):
        try:
            run(c.send("Sam Parent", f"notice {i}"))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=send, args=(admin if i % 2 else second, i)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    texts = sorted(m.text for m in run(parent.sync()))
    assert texts == sorted(f"notice {i}" for i in range(16))
    assert run(parent.sync()) == []
