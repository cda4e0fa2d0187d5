"""``torchdeck serve``: the whole app in a browser, through textual-serve.

Each browser tab runs the app in a process of its own, on one engine in this folder: the first
tab starts it (detached, as the terminal app does), later tabs attach to it, and closing a tab
leaves it, so a run goes on training and stays attachable from a terminal (``torchdeck attach``).

The app runs arbitrary Python in its playground, so the server must never be open to whoever can
reach its port: it binds to 127.0.0.1 unless ``--host`` says otherwise (with a warning), and
every start prints a URL with a fresh random token. A request without the token (in the URL the
first time, then in a cookie the browser keeps for this server only) gets 403.
"""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import secrets
import shlex
import sys

from core.contract.settings import DEFAULT_PRESET, PRESETS
from core.i18n import N_, _

DEFAULT_PORT = 8000
DEFAULT_HOST = "127.0.0.1"
COOKIE = "torchdeck_token"
SERVED_FLAG = "--served"  # the app's hidden flag: attach to this folder's engine if there is one
FORBIDDEN = N_(
    "torchdeck serve: this address needs the token printed when the server started "
    "(open the URL it printed, ?token=... included)\n"
)


CROSS_ORIGIN = N_("torchdeck serve: refused a request from another site's page\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="torchdeck serve",
        description=_(
            "Serve the app to a browser (textual-serve). Binds to 127.0.0.1; from "
            "another machine use ssh -L 8000:127.0.0.1:8000 HOST torchdeck serve"
        ),
    )
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT, help=_("default 8000"))
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=_("address to listen on (default 127.0.0.1; anything else lets other machines in)"),
    )
    parser.add_argument("--preset", choices=PRESETS, default=DEFAULT_PRESET)
    parser.add_argument("--corpus", metavar="PATH", help=_("training text (default: Python docs)"))
    parser.add_argument(
        "--device", default="auto", help=_("auto (default), cpu, cuda, cuda:N, mps")
    )
    return parser


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            _("{text!r} is not a port: want an integer in [1, 65535]").format(text=text)
        )
    return port


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_warning(host: str) -> str:
    """What to say before listening on ``host`` ("" for a loopback address)."""
    if is_loopback(host):
        return ""
    return _(
        "warning: listening on {host}: anyone who can reach this port and has the token can run "
        "Python on this machine as you (the playground). Prefer the default 127.0.0.1 and an ssh "
        "tunnel: ssh -L 8000:127.0.0.1:8000 HOST torchdeck serve"
    ).format(host=host)


def app_command(args: argparse.Namespace) -> str:
    """The shell command each browser tab runs: this Python, the app, this server's settings."""
    parts = [sys.executable, "-m", "cli.main", SERVED_FLAG, "--preset", args.preset]
    parts += ["--device", args.device]
    if args.corpus:
        parts += ["--corpus", args.corpus]
    return shlex.join(parts)


def same_origin(origin: str | None, host: str) -> bool:
    """Whether a request's ``Origin`` (None: not a browser's cross-page request) is this very
    server, as the browser reached it (``Host``)."""
    if origin is None:
        return True
    from urllib.parse import urlsplit

    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


def token_ok(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def token_middleware(token: str, cookie: str = COOKIE):
    """An aiohttp middleware: the token in the query (then kept in a cookie) or the cookie, or
    403."""
    from aiohttp import web

    @web.middleware
    async def check(request: web.Request, handler):
        if not same_origin(request.headers.get("Origin"), request.host):
            # a page of another site driving this one with the browser's cookie
            raise web.HTTPForbidden(text=_(CROSS_ORIGIN))
        if token_ok(request.query.get("token"), token):
            response = await handler(request)
            if isinstance(response, web.Response):  # not a websocket, already under way
                response.set_cookie(cookie, token, httponly=True, samesite="Strict", path="/")
            return response
        if token_ok(request.cookies.get(cookie), token):
            return await handler(request)
        raise web.HTTPForbidden(text=_(FORBIDDEN))

    return check


def make_server(args: argparse.Namespace, token: str, say=print):
    """A textual-serve Server that refuses requests without ``token``."""
    from textual_serve.server import Server

    class TokenServer(Server):
        async def _make_app(self):
            app = await super()._make_app()
            # a cookie of its own per port: browsers share cookies across a host's ports, and
            # two servers on one machine must not log each other's tabs out
            app.middlewares.append(token_middleware(token, f"{COOKIE}_{args.port}"))
            return app

        async def handle_index(self, request):
            # the page's script and websocket at the address the browser used (localhost, a
            # tunnel's own port, this machine's name when --host lets others in), not the bound
            # one: 0.0.0.0 or an unbracketed ::1 would send them nowhere
            self.public_url = f"{request.scheme}://{request.host}"
            return await super().handle_index(request)

        async def on_startup(self, app) -> None:
            # aiohttp starts the app before it listens: the URL is said once a connection to
            # it succeeds, so whoever reads it (a person, a test) finds the server there
            import asyncio

            self.announcing = asyncio.ensure_future(self._announce())

        async def _announce(self) -> None:
            import asyncio

            for _try in range(250):  # up to 5 s
                try:
                    _reader, writer = await asyncio.open_connection(args.host, args.port)
                except OSError:
                    await asyncio.sleep(0.02)
                    continue
                writer.close()
                break
            said = _("open {url}").format(url=url(args.host, args.port, token))
            say(f"torchdeck serve: {said}")
            say(_("each tab runs the app; a run goes on when its tab closes. Ctrl+C stops serving"))

        def initialize_logging(self) -> None:
            pass  # textual-serve logs every request; the URL line above is what a person needs

    return TokenServer(app_command(args), host=args.host, port=args.port, title="torchdeck")


def check_address(host: str, port: int) -> None:
    """Raise OSError if ``host``:``port`` cannot be listened on (taken, or not this machine's),
    binding as aiohttp will (address reuse on)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1)


def url(host: str, port: int, token: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/?token={token}"


def _cannot_listen(args: argparse.Namespace, exc: OSError) -> int:
    said = _("cannot listen on {address} ({reason})").format(
        address=f"{args.host}:{args.port}", reason=exc.strerror or exc
    )
    hint = _("hint: pick another port with --port N, or a --host this machine has")
    print(f"torchdeck serve: {said}\n{hint}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warning = host_warning(args.host)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    from cli.serve_engines import after_serving, engines_before

    server = make_server(args, secrets.token_urlsafe(24), say=lambda s: print(s, flush=True))
    try:
        check_address(args.host, args.port)  # before the URL is printed
    except OSError as exc:  # the port is taken, the address is not this machine's
        return _cannot_listen(args, exc)
    before = engines_before()
    try:
        server.serve()
    except OSError as exc:  # taken between the check and the server's own bind
        return _cannot_listen(args, exc)
    finally:
        after_serving(print, before)
    return 0
