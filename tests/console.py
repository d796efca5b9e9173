"""The web console run as `broadcaster web` in its own process, accounts made with `broadcaster user add`,
and an HTTP client that logs in as a person would (taking the CSRF token from the page)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.fleet import free_port

PASSWORD = "mật-khẩu-dài-1"


def add_user(root: Path, name: str, role: str, password: str = PASSWORD) -> None:
    r = subprocess.run([sys.executable, "-m", "broadcaster", "user", "add", name, "--role", role], cwd=root,
                       input=f"{password}\n{password}\n", capture_output=True, text=True, timeout=60,
                       env={**os.environ, "LANG": "C.UTF-8"})
    assert r.returncode == 0, r.stderr


class ConsoleServer:
    def __init__(self, root: Path, log: Path, env: dict | None = None, args: tuple = (), scheme: str = "http",
                 verify: str | bool = True):
        self.port = free_port()
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.verify = verify
        self.log = log
        self.proc = subprocess.Popen([sys.executable, "-m", "broadcaster", "web", "--listen",
                                      f"127.0.0.1:{self.port}", *args], cwd=root, stdout=open(log, "ab"),
                                     stderr=subprocess.STDOUT, env={**os.environ, "LANG": "C.UTF-8", **(env or {})})
        deadline = time.time() + 30
        while True:
            try:
                if httpx.get(self.url + "/health", timeout=1, verify=verify).text == "ok":
                    return
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None, log.read_text()
            assert time.time() < deadline, log.read_text()
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def client(self) -> "Person":
        return Person(self.url, verify=self.verify)


class Person(httpx.Client):
    def __init__(self, url: str, verify: str | bool = True):
        # the console speaks Vietnamese unless the browser asks otherwise; these tests read English
        super().__init__(base_url=url, follow_redirects=False, timeout=60, headers={"Accept-Language": "en"},
                         verify=verify)

    def csrf(self, page: str = "/login") -> str:
        html = self.get(page, follow_redirects=True).text
        m = re.search(r'data-csrf="([^"]*)"', html) or re.search(r'name="csrf" value="([^"]*)"', html)
        return m.group(1)

    def login(self, name: str, password: str = PASSWORD) -> httpx.Response:
        return self.post("/login", data={"csrf": self.csrf(), "name": name, "password": password, "next": "/"})
