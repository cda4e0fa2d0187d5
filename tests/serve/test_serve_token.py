"""torchdeck serve's guard: the token in the URL (then a cookie kept for this server), or 403;
127.0.0.1 unless --host says otherwise, with a warning; each tab's command."""

from __future__ import annotations

import shlex
import sys

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from cli.serve import (
    COOKIE,
    FORBIDDEN,
    app_command,
    build_parser,
    host_warning,
    token_middleware,
    url,
)

TOKEN = "s3cret-token_value"


async def _client() -> TestClient:
    async def page(request):
        return web.Response(text="the app")

    async def ws(request):
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_str("hello")
        await socket.close()
        return socket

    app = web.Application(middlewares=[token_middleware(TOKEN)])
    app.add_routes([web.get("/", page), web.get("/ws", ws), web.get("/static/x.js", page)])
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


async def test_no_token_no_page_no_static_no_websocket():
    client = await _client()
    try:
        for path in ("/", "/static/x.js", "/ws", "/?token=wrong", f"/?token={TOKEN}x"):
            response = await client.get(path)
            assert response.status == 403, path
            assert await response.text() == FORBIDDEN
    finally:
        await client.close()


async def test_the_token_opens_the_page_and_its_cookie_the_rest():
    client = await _client()
    try:
        response = await client.get(f"/?token={TOKEN}")
        assert response.status == 200 and await response.text() == "the app"
        cookie = response.cookies[COOKIE]
        assert cookie.value == TOKEN and cookie["httponly"] and cookie["samesite"] == "Strict"
        # the browser sends the cookie back: the script, the websocket
        assert (await client.get("/static/x.js")).status == 200
        socket = await client.ws_connect("/ws")
        assert (await socket.receive_str()) == "hello"
        await socket.close()
        client.session.cookie_jar.clear()
        assert (await client.get("/static/x.js")).status == 403
    finally:
        await client.close()


def test_defaults_bind_to_loopback_and_anything_else_is_warned_about():
    args = build_parser().parse_args([])
    assert (args.host, args.port, args.preset) == ("127.0.0.1", 8000, "gpt")
    assert host_warning("127.0.0.1") == host_warning("localhost") == host_warning("::1") == ""
    warning = host_warning("0.0.0.0")
    assert warning.startswith("warning: listening on 0.0.0.0: anyone who can reach this port")
    assert "ssh -L 8000:127.0.0.1:8000 HOST torchdeck serve" in warning
    assert url("127.0.0.1", 8123, "abc") == "http://127.0.0.1:8123/?token=abc"
    assert url("::1", 8123, "abc") == "http://[::1]:8123/?token=abc"


def test_a_bad_port_is_refused_with_its_range(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--port", "70000"])
    assert "'70000' is not a port: want an integer in [1, 65535]" in capsys.readouterr().err


def test_each_tab_runs_this_python_on_the_app_with_the_servers_settings():
    args = build_parser().parse_args(["--preset", "mini", "--corpus", "my text.txt"])
    assert shlex.split(app_command(args)) == [
        sys.executable,
        "-m",
        "cli.main",
        "--served",
        "--preset",
        "mini",
        "--device",
        "auto",
        "--corpus",
        "my text.txt",
    ]


def test_a_taken_port_is_one_clear_error_before_any_url(capsys, monkeypatch):
    import socket

    from cli import serve_engines
    from cli.serve import main

    touched = []  # a server that never ran leaves every engine alone
    monkeypatch.setattr(serve_engines, "after_serving", lambda *a: touched.append(a))
    monkeypatch.setattr(serve_engines, "engines_before", lambda: touched.append("listed"))

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["--port", str(port)]) == 1
    out, err = capsys.readouterr()
    assert "token=" not in out
    assert err.startswith(f"torchdeck serve: cannot listen on 127.0.0.1:{port} (")
    assert "hint: pick another port with --port N" in err
    assert touched == []


def test_when_serving_stops_only_the_idle_engines_its_tabs_started_are_shut_down(monkeypatch):
    from cli import engines, serve_engines
    from core import runtime

    found = [
        {"id": 11, "state": "idle", "detached": True, "clients": 0},  # there before serving
        {"id": 12, "state": "finished", "detached": True, "clients": 0},  # there before
        {"id": 21, "state": "idle", "detached": True, "clients": 0},  # a tab's, nobody on it
        {"id": 22, "state": "idle", "detached": True, "clients": 1},  # a tab's, still used
        {"id": 23, "state": "running", "detached": True, "clients": 0, "step": 5, "steps": 9},
    ]
    monkeypatch.setattr(serve_engines, "_engines_here", lambda run_dir: found)
    stopped = []

    async def stop(path, say, timeout):
        stopped.append(runtime.engine_id_of(path))

    monkeypatch.setattr(engines, "stop", stop)
    said = []
    serve_engines.after_serving(said.append, {"11", "12"})
    assert stopped == ["21"]
    assert said == [
        "engine 23 goes on training (running, step 5/9): torchdeck attach 23 opens it, "
        "torchdeck stop 23 ends it"
    ]


async def test_another_sites_page_cannot_drive_it_even_with_the_cookie():
    import aiohttp

    from cli.serve import CROSS_ORIGIN, same_origin

    assert same_origin(None, "127.0.0.1:8000")  # not a cross-page request (curl, the app)
    assert same_origin("http://127.0.0.1:8000", "127.0.0.1:8000")
    assert not same_origin("http://127.0.0.1:9999", "127.0.0.1:8000")  # another port's page
    assert not same_origin("https://evil.example", "127.0.0.1:8000")
    assert not same_origin("null", "127.0.0.1:8000")  # a sandboxed or file: page
    client = await _client()
    try:
        assert (await client.get(f"/?token={TOKEN}")).status == 200  # the cookie is set
        here = f"http://{client.host}:{client.port}"
        socket = await client.ws_connect("/ws", headers={"Origin": here})
        assert (await socket.receive_str()) == "hello"
        await socket.close()
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/ws", headers={"Origin": "http://evil.example"})
        assert refused.value.status == 403
        response = await client.get(f"/?token={TOKEN}", headers={"Origin": "http://evil.example"})
        assert response.status == 403 and await response.text() == CROSS_ORIGIN
    finally:
        await client.close()


async def test_the_page_points_its_script_and_websocket_where_the_browser_came_from():
    from cli.serve import make_server

    args = build_parser().parse_args(["--host", "0.0.0.0", "--port", "8123"])
    server = make_server(args, TOKEN, say=lambda _line: None)
    client = TestClient(TestServer(await server._make_app()))
    await client.start_server()
    try:
        for host in ("gpubox.lan:8123", "localhost:9000", "[::1]:8123"):
            response = await client.get(f"/?token={TOKEN}", headers={"Host": host})
            page = await response.text()
            assert response.status == 200
            assert f'data-session-websocket-url="ws://{host}/ws"' in page
            assert f'src="http://{host}/static/js/textual.js"' in page
            assert "0.0.0.0" not in page
        # its cookie is this port's own: another server on the machine keeps its own
        assert f"{COOKIE}_8123" in response.cookies
    finally:
        await client.close()
