"""Shared fixtures: the generated `satchel` module and a real relay on loopback.

`scripts/test-bindings` generates the bindings into $SATCHEL_BINDINGS_DIR (next to a copy
of libsatchel_ffi.so) and points $SATCHEL_RELAY_BIN at the release relay binary.
"""

import os
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.environ["SATCHEL_BINDINGS_DIR"])


# The registration token the test relays are started with.
REGISTRATION_TOKEN = "python-test-registration-token"


@pytest.fixture
def relay_url():
    """Starts `satchel-relay --listen 127.0.0.1:0` with a fresh data folder."""
    with tempfile.TemporaryDirectory() as data:
        process = subprocess.Popen(
            [os.environ["SATCHEL_RELAY_BIN"], "--listen", "127.0.0.1:0", "--data", data],
            env={**os.environ, "SATCHEL_RELAY_REGISTRATION_TOKEN": REGISTRATION_TOKEN},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            line = process.stdout.readline().strip()
            assert line.startswith("listening on "), f"relay did not start: {line!r}"
            yield "http://" + line.removeprefix("listening on ")
        finally:
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture
def home(tmp_path):
    """A profile folder path per name: home("teacher"). The library creates it, private
    to the user (it refuses a folder other users can read)."""

    def make(name):
        return str(tmp_path / name)

    return make
