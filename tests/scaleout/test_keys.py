"""scaleout.keys: the driver's key travels to an actor's process (pickled, as Ray sends it) and never shows."""

import os
import pickle

import pytest

from alttrain.llm.config import TeacherConfig
from alttrain.scaleout.keys import DriverKey

TEACHER = TeacherConfig(backend="openai", model="m", base_url="http://127.0.0.1:1/v1", api_key_env="ALTTRAIN_KEY_T")


def test_the_key_read_on_the_driver_is_set_in_the_actors_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALTTRAIN_KEY_T", "sk-driver-0123456789")
    carried = pickle.loads(pickle.dumps(DriverKey.of(TEACHER)))
    monkeypatch.setenv("ALTTRAIN_KEY_T", "sk-node-stale")  # what the actor's node held
    carried.install()
    assert os.environ["ALTTRAIN_KEY_T"] == "sk-driver-0123456789"
    assert "sk-driver" not in repr(carried) and "sk-driver" not in str(carried)


def test_an_unset_or_unneeded_key_sets_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALTTRAIN_KEY_T", raising=False)
    DriverKey.of(TEACHER).install()
    DriverKey.of(TeacherConfig(backend="openai", model="m", base_url="http://127.0.0.1:1/v1")).install()
    assert "ALTTRAIN_KEY_T" not in os.environ
