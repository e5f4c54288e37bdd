"""JupyterLab, started as the README says (``jupyter lab notebooks/``), serves the notebooks.

A real server on a free loopback port, asked over HTTP: the Lab page, the four notebooks in
the contents API (opened as notebooks, with the project's kernel) and the kernel spec.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("jupyterlab")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["01_data_inspection.ipynb", "02_training.ipynb", "03_ablations.ipynb", "04_embeddings.ipynb"]
TOKEN = "amccl-test-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


@pytest.fixture(scope="module")
def lab_url(tmp_path_factory):
    port = free_port()
    runtime = tmp_path_factory.mktemp("jupyter-runtime")
    # as `make lab` does: the repo's jupyter/ folder first on the config path
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(runtime), HF_HUB_OFFLINE="1",
               JUPYTER_CONFIG_PATH=os.pathsep.join(filter(None, [str(REPO / "jupyter"),
                                                                 os.environ.get("JUPYTER_CONFIG_PATH")])))
    cmd = [sys.executable, "-m", "jupyter", "lab", "notebooks/", "--no-browser", "--ip=127.0.0.1",
           f"--port={port}", f"--IdentityProvider.token={TOKEN}", "--ServerApp.port_retries=0"]
    if hasattr(os, "getuid") and os.getuid() == 0:
        cmd.append("--allow-root")  # as `make lab` does in containers
    server = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                get(f"{url}/api/status")
                break
            except (urllib.error.URLError, ConnectionError) as err:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("jupyter lab did not start: " + server.stderr.read().decode()[-2000:]) from err
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def test_lab_page_is_served(lab_url):
    status, body = get(f"{lab_url}/lab")
    assert status == 200 and b"JupyterLab" in body


def test_the_four_notebooks_are_served_as_notebooks_with_the_project_kernel(lab_url):
    status, body = get(f"{lab_url}/api/contents/")
    listed = {item["name"]: item["type"] for item in json.loads(body)["content"]}
    assert all(listed.get(name) == "notebook" for name in NOTEBOOKS), listed
    assert not [name for name in listed if name.endswith(".py")], f"jupytext twins listed beside their notebooks: {listed}"
    for name in NOTEBOOKS:
        status, body = get(f"{lab_url}/api/contents/{name}?content=1")
        notebook = json.loads(body)
        assert status == 200 and notebook["type"] == "notebook"
        assert notebook["content"]["metadata"]["kernelspec"]["name"] == "python3"
        assert notebook["content"]["cells"][0]["cell_type"] == "markdown"  # opens with its question


def test_the_kernel_is_this_environment(lab_url):
    status, body = get(f"{lab_url}/api/kernelspecs")
    specs = json.loads(body)
    assert specs["default"] == "python3" and "python3" in specs["kernelspecs"]
