"""``manage.py up``: everything from an empty machine to a running platform.

Starts (or reuses) the database, migrates the public schema and every region
that is behind the migrations on disk (one query finds them), provisions the
seed regions that are missing, collects the static files the app serves itself
(the admin's CSS, GraphiQL's scripts), creates the first central admin (printing
its password and its TOTP device's otpauth:// URI once), then serves the app
until Ctrl-C. Safe to run again: every step skips what is already done.

With the embedded PostgreSQL (no ``DATABASE_URL``), a supervisor thread restarts
it when it stops and makes sure it is stopped when ``up`` exits, unless another
live command still uses it (``central/pg_supervisor.py``, issue 20).

While serving, it also runs the interop delivery worker (``manage.py interop
deliver --loop``) as a child process, restarted if it dies and stopped with the
server on Ctrl-C or SIGTERM (issue 11 finding 6); ``--no-deliver`` leaves it out
(run it elsewhere, e.g. as the ``interop-deliver`` service: platform/README.md).
Likewise the scheduler of the daily jobs (``manage.py schedule --loop``: closing
publicity, expiring transfers and check-ins; ``central/schedule.py``, issue 12);
``--no-schedule`` leaves it out. Several ``up``s on one database still run each
job once a day.
"""

from __future__ import annotations

import errno
import functools
import io
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence

from django.conf import settings
from django.core import checks
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.utils.translation import gettext as _

from central import accounts, migrating, services
from central.database import database_url, embedded_server
from central.errors import ServiceError
from central.lifetimes import dies_with
from central.management.commands import demo as demo_command
from central.models import Region
from central.pg_supervisor import PostgresSupervisor
from central.readiness import schemas_behind as regions_behind

# With more regions to migrate than this, they are migrated in parallel.
PARALLEL_FROM = 20
# Front processes sharing up's listening socket (README "Serving": one, measured).
FRONTS = 1


class Command(BaseCommand):
    help = "Set up the database and seed regions, then serve the platform."
    # The system checks run once the database is migrated and provisioned (below):
    # some of them read regions (central/checks.py).
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--port",
            type=int,
            # $PORT as most hosting tools set it; the README's walkthrough uses it too.
            default=os.environ.get("PORT") or 8000,
            help="the port to serve on (default: $PORT, else 8000)",
        )
        parser.add_argument(
            "--workers",
            type=int,
            # One per core (at least 2, so one crash never stops the service): more
            # only share the same cores and lengthen the tail (issue 20 finding 6).
            default=max(2, min(os.cpu_count() or 2, 16)),
            help="WSGI worker processes (default: one per core, at least 2)",
        )
        parser.add_argument("--threads", type=int, default=4, help="threads per worker")
        parser.add_argument(
            "--fronts",
            type=int,
            default=FRONTS,
            help=(
                "front processes sharing the listening socket (default: %(default)s; "
                "each lets its share of all cores but one hash passwords at once, at least 1)"
            ),
        )
        parser.add_argument("--no-serve", action="store_true", help="set everything up, then exit")
        parser.add_argument("--no-seed", action="store_true", help="skip the seed regions")
        parser.add_argument(
            "--demo",
            action="store_true",
            help="fill the seed regions with sample data and print logins (manage.py demo)",
        )
        parser.add_argument(
            "--no-deliver",
            action="store_true",
            help="do not run the interop delivery worker (manage.py interop deliver --loop)",
        )
        parser.add_argument(
            "--no-schedule",
            action="store_true",
            help="do not run the daily jobs' scheduler (manage.py schedule --loop)",
        )

    def execute(self, *args, **options):
        # Before the system checks and anything set up or started: a busy port is one
        # clear line and exit status 1, not a "ready" banner followed by the front's
        # bind errors (issue 13).
        if not options["no_serve"]:
            busy = port_problem(options["host"], options["port"])
            if busy:
                raise CommandError(busy)
        return super().execute(*args, **options)

    def handle(
        self,
        *args,
        host,
        port,
        workers,
        threads,
        fronts,
        no_serve,
        no_seed,
        no_deliver,
        no_schedule,
        demo,
        **options,
    ):
        started = time.monotonic()
        if fronts < 1:
            raise CommandError(_("--fronts must be at least 1"))
        if demo and no_seed:
            raise CommandError(_("--demo fills the seed regions; it cannot go with --no-seed"))
        if demo and settings.PRODUCTION:
            raise CommandError(_("demo data has published passwords; it is refused in production"))
        connections["default"].ensure_connection()  # starts the embedded server, if ours
        db = settings.DATABASES["default"]
        self.stdout.write(
            _("database: %(name)s on %(host)s")
            % {"name": db["NAME"], "host": db["HOST"] or "localhost"}
        )

        # The public schema's own check first: ``migrate`` with nothing to do still
        # renders every model twice, compares them with the migrations and runs the
        # post_migrate handlers (seconds, every time ``up`` starts).
        if regions_behind(["public"]):
            self.stdout.write(_("migrating the public schema …"))
            call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        else:
            self.stdout.write(_("public schema: up to date"))
        self._migrate_regions()

        self.stdout.write(_("seed regions: skipped (--no-seed)") if no_seed else _("seed regions:"))

        def progress(index, total, spec, created):
            state = _("created") if created else _("present")
            self.stdout.write(f"  [{index}/{total}] {spec.code} {spec.name} … {state}")

        results = [] if no_seed else services.ensure_seed_regions(on_progress=progress)
        self._collect_static()
        admin, password = services.ensure_central_admin()
        device = accounts.enrol_totp(admin.username, confirmed=True) if password else None
        created = sum(1 for _region, was_created in results if was_created)
        # Warnings on stderr, the database's too (the working-day calendar, central.W001).
        # The URL configuration's check imports both GraphQL schemas (3-18 s on a
        # shared 2-core machine): only when serving them (``manage.py check`` and
        # CI check them always).
        tags = checks.registry.registry.tags_available() | {checks.Tags.database}
        if no_serve:
            tags -= {checks.Tags.urls}
        self.check(databases=["default"], tags=sorted(tags))
        if demo:
            try:
                demo_command.run(self._say, [region for region, _created in results])
            except ServiceError as error:
                raise CommandError(str(error)) from None
        self.stdout.write(
            self.style.SUCCESS(
                _("ready in %(seconds)ss: %(regions)s regions (%(created)s created now)")
                % {
                    "seconds": format(time.monotonic() - started, ".1f"),
                    "regions": Region.objects.count(),
                    "created": created,
                }
            )
        )
        if password and device is not None:
            self.stdout.write(
                self.style.WARNING(
                    _(
                        "central admin created: username %(username)r, password %(password)r\n"
                        "  (shown only this once; change it with manage.py changepassword)\n"
                        "  second factor (TOTP) for the admin site and the central API's login:"
                        " add\n  this to an authenticator app: %(url)s\n"
                        "  (shown only this once; a new one: manage.py totp enrol %(username)s)"
                    )
                    % {"username": admin.username, "password": password, "url": device.config_url}
                )
            )
        else:
            self.stdout.write(
                _("central admin: %(username)r (password set earlier)")
                % {"username": admin.username}
            )
        if no_serve:
            return
        self._print_urls(host, port)
        connections.close_all()  # never share a connection with forked workers
        children = []
        if no_deliver:
            self.stdout.write(_("interop delivery worker: off (--no-deliver)"))
        else:
            children.append(delivery_worker(self._say))
        if no_schedule:
            self.stdout.write(_("scheduler of the daily jobs: off (--no-schedule)"))
        else:
            children.append(scheduler(self._say))
        # gunicorn listens on a unix socket only the front reaches (issue 20).
        data = settings.BASE_DIR / ".data"
        data.mkdir(exist_ok=True)
        upstream = str(data / f"gunicorn-{port}.sock")
        # Each server's own Prometheus directory (central/metrics.py), emptied by
        # gunicorn's on_starting; the workers inherit the variable.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = settings.METRICS_DIR or str(
            data / f"metrics-{port}"
        )
        # up itself holds the port, as gunicorn's arbiter does, and lends the socket
        # to the fronts: while a front restarts, new connections wait in the
        # kernel's backlog instead of being refused. Bound now (a port taken since
        # the check fails before anything starts), listening once gunicorn listens
        # (the fronts wait for that): a client that can connect is served, never
        # told 503 while gunicorn loads.
        listeners = bind(host, port)
        children += [
            front(f"front {n}" if fronts > 1 else "front", listeners, upstream, self._say, fronts)
            for n in range(1, fronts + 1)
        ]

        def open_port(server) -> None:  # gunicorn's when_ready: its workers come next
            for listener in listeners:
                listener.listen(BACKLOG)

        owner = os.getpid()
        # The front appends the client's address: the application reads it there.
        settings.CLIENT_ADDRESS_HEADER = settings.CLIENT_ADDRESS_HEADER or "X-Forwarded-For"
        supervisor = None
        # The children run before gunicorn's arbiter has set its signal handlers: a
        # SIGTERM in that window stops everything cleanly (exit 0) instead of killing
        # ``up`` with its children left running. gunicorn replaces it.
        signal.signal(signal.SIGTERM, _exit_cleanly)
        try:
            for child in children:
                child.start()
            if embedded_server() is not None:
                # Issue 20: restart the embedded PostgreSQL when it stops; stop it on exit.
                supervisor = PostgresSupervisor(embedded_server(), self._say)
                supervisor.start()
            serve(
                bind=f"unix:{upstream}",
                port=port,
                workers=workers,
                threads=threads,
                inherited=listeners,
                when_ready=open_port,
            )
        finally:
            if os.getpid() == owner:  # not in a forked server worker leaving
                for child in children:
                    child.stop()
                for listener in listeners:  # the port is free when up returns
                    listener.close()
                if supervisor is not None:
                    supervisor.stop()

    def _collect_static(self) -> None:
        """The admin's and GraphiQL's files into STATIC_ROOT, where WhiteNoise serves
        them from (every host, no CDN); unchanged files are skipped."""
        self.stdout.write("static files …")
        summary = call_command(
            "collectstatic", interactive=False, verbosity=1, stdout=io.StringIO()
        ).strip()
        self.stdout.write(f"  {summary}")

    def _say(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()

    def _migrate_regions(self, parallel_from: int = PARALLEL_FROM) -> None:
        """Migrate the regions whose schema is behind the migrations on disk."""
        schemas = list(Region.objects.order_by("schema_name").values_list("schema_name", flat=True))
        if not schemas:
            return
        started = time.monotonic()
        behind = regions_behind(schemas)
        self.stdout.write(
            f"  regions: {len(schemas) - len(behind)} of {len(schemas)} up to date "
            f"(checked in {time.monotonic() - started:.2f}s)"
            + (f", {len(behind)} to migrate" if behind else "")
        )
        if not behind:
            return
        # Each region costs the same whatever the region count (central/migrating.py,
        # bench/regions.py); two processes use both cores of a small machine.
        processes = getattr(settings, "TENANT_MULTIPROCESSING_MAX_PROCESSES", 2)
        parallel = len(behind) > parallel_from and processes > 1
        if parallel:
            self.stdout.write(f"  migrating {len(behind)} regions in {processes} processes …")

        def progress(done: int, schema: str) -> None:
            self.stdout.write(
                f"\r  migrating regions [{done}/{len(behind)}] {schema:<30}", ending=""
            )
            self.stdout.flush()

        started = time.monotonic()
        if parallel:
            migrate_in_processes(behind, processes, progress)
        else:
            for done, schema in enumerate(behind, start=1):
                progress(done, schema)
                migrate_region(schema)
        self.stdout.write(
            f"\r  migrated {len(behind)} region{'s' if len(behind) != 1 else ''} "
            f"in {time.monotonic() - started:.1f}s{' ' * 30}"
        )

    def _print_urls(self, host: str, port: int) -> None:
        shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
        self.stdout.write(f"central API:   http://{shown}:{port}/graphql")
        self.stdout.write(f"central admin: http://{shown}:{port}/admin/")
        for region in services.regions():
            primary = region.domains.all()[0].domain if region.domains.all() else None
            if primary:
                self.stdout.write(f"{region.name:<6} API: http://{primary}:{port}/graphql")
        self.stdout.write(_("Ctrl-C stops the server."))
        sys.stdout.flush()


def port_problem(host: str, port: int) -> str | None:
    """Why ``up`` could not listen on ``host:port``, as one line, or None.

    Bound the way :func:`bind` binds (``SO_REUSEADDR``), so a port left in
    TIME_WAIT by a previous run is not mistaken for a busy one."""
    try:
        for probe in bind(host, port):
            probe.close()
    except CommandError as error:
        return str(error)
    return None


# Connections the kernel keeps waiting for a front to accept them (capped by
# net.core.somaxconn): a restarting front finds them there.
BACKLOG = 1024


def bind(host: str, port: int) -> list[socket.socket]:
    """Sockets bound to every address of ``host:port`` (``localhost`` may be two), to
    listen on for the fronts; CommandError with :func:`port_problem`'s line."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise CommandError(
            _("cannot listen on %(host)s: %(reason)s") % {"host": host, "reason": error}
        ) from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _name, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:  # as asyncio: each address family its own socket
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as error:
                if error.errno == errno.EADDRINUSE:
                    message = _(
                        "port %(port)s on %(host)s is already in use (another manage.py up?); "
                        "stop it or choose another port with --port"
                    ) % {"port": port, "host": host}
                else:
                    message = _("cannot listen on %(host)s:%(port)s: %(reason)s") % {
                        "host": host,
                        "port": port,
                        "reason": error.strerror,
                    }
                raise CommandError(message) from None
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def migrate_region(schema: str) -> str:
    """One region's schema up to the migrations on disk (``central/migrating.py``:
    the plan and Django's states computed once per process, not once per region)."""
    migrating.migrate_schema(schema)
    return schema


def migrate_in_processes(
    schemas: list[str], processes: int, progress: Callable[[int, str], None]
) -> None:
    """``migrate_schemas`` for each schema in a pool of forked processes (one
    connection each, as django-tenants' multiprocessing executor), with progress."""
    migrating.read_graph()  # read from disk once, before forking: the workers inherit it
    connections.close_all()  # never share a connection with forked workers
    pool = multiprocessing.get_context("fork").Pool(processes)
    try:
        # Chunks: fewer round trips to the workers; each worker keeps one connection.
        chunk = max(1, min(16, len(schemas) // (processes * 4)))
        migrated = pool.imap_unordered(migrate_region, schemas, chunksize=chunk)
        for done, schema in enumerate(migrated, start=1):
            progress(done, schema)
    finally:
        pool.terminate()
        pool.join()


# A child that ran this long (seconds) had started well: when it exits it is
# restarted at once (a killed front's clients wait in the backlog meanwhile).
RAN_A_WHILE = 10


class SupervisedChild:
    """A child process ``up`` runs beside gunicorn: restarted when it exits — at
    once the first time and after a run of over ``RAN_A_WHILE``, else after 1 s,
    doubling to 60 s while it keeps dying that soon —, stopped by :meth:`stop`. It runs in its
    own session, so a Ctrl-C reaches only ``up``, which stops it; if ``up`` is
    killed the kernel kills it (:func:`dies_with`). ``pass_fds``: file
    descriptors it inherits (the fronts' listening sockets)."""

    def __init__(
        self,
        name: str,
        command: list[str],
        say: Callable[[str], None],
        env: dict[str, str] | None = None,
        pass_fds: tuple[int, ...] = (),
    ):
        self.name, self.command, self.say, self.env = name, command, say, env
        self.pass_fds = pass_fds
        self.owner = os.getpid()
        self.dies_with_up = dies_with(self.owner)
        self.process: subprocess.Popen | None = None
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        backoff = 0.0  # the wait before the next restart
        while True:
            with self.lock:
                if self.stopping.is_set():
                    return
                self.process = subprocess.Popen(
                    self.command,
                    start_new_session=True,
                    env=self.env,
                    pass_fds=self.pass_fds,
                    preexec_fn=self.dies_with_up,
                )
                started = time.monotonic()
                self.say(f"{self.name}: started (pid {self.process.pid})")
            code = self.process.wait()
            if self.stopping.is_set():
                return
            if time.monotonic() - started > RAN_A_WHILE:
                backoff = 0.0
            delay, backoff = backoff, min(max(backoff * 2, 1.0), 60.0)
            self.say(
                f"{self.name}: exited with {code}; "
                + (f"restarting in {delay:g}s" if delay else "restarting it now")
            )
            if self.stopping.wait(delay):
                return

    def stop(self, timeout: float = 10) -> None:
        if os.getpid() != self.owner:
            return  # a forked server worker leaving: the child is the master's
        with self.lock:
            self.stopping.set()
            process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if self.thread.is_alive():  # never started when up stopped before serving
            self.thread.join(timeout)


def delivery_worker(say: Callable[[str], None]) -> SupervisedChild:
    """``manage.py interop deliver --loop`` (issue 11 finding 6)."""
    return _command_child("interop delivery worker", ["interop", "deliver", "--loop"], say)


def scheduler(say: Callable[[str], None]) -> SupervisedChild:
    """``manage.py schedule --loop``: the daily jobs (issue 12 point 2)."""
    return _command_child("scheduler", ["schedule", "--loop"], say)


def _exit_cleanly(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the stop short
    raise SystemExit(0)


def _command_child(name: str, arguments: list[str], say: Callable[[str], None]) -> SupervisedChild:
    """A management command as ``up``'s child; ``--parent`` makes it exit by itself
    if ``up`` disappears."""
    manage = str(settings.BASE_DIR / "manage.py")
    command = [sys.executable, manage, *arguments, "--parent", str(os.getpid())]
    env = None
    if embedded_server() is not None:
        # Only up's PostgresSupervisor restarts the embedded server: a child (re)started
        # while it is down waits for it instead of starting it behind the supervisor.
        env = {**os.environ, "DATABASE_URL": database_url(settings.DATABASES["default"])}
    return SupervisedChild(name, command, say, env)


def front(
    name: str,
    listeners: list[socket.socket],
    upstream: str,
    say: Callable[[str], None],
    fronts: int = 1,
) -> SupervisedChild:
    """A front that reads requests whole before gunicorn sees them (issue 20,
    ``central/front.py``), accepting on ``up``'s listening sockets. The largest body
    it takes: an inbox message or an upload. ``--parent``: it exits if ``up`` is
    gone (killed), so it never holds the port for nobody. ``--heavy``: its share
    of the CPU-heavy requests at once among ``fronts`` fronts."""
    from central.front import heavy_limit

    max_body = max(settings.INTEROP_INBOX_MAX_BYTES, settings.UPLOAD_MAX_BYTES * 2) + 1024 * 1024
    fds = tuple(listener.fileno() for listener in listeners)
    command = [
        sys.executable, "-m", "central.front", "--upstream", upstream,
        "--max-body", str(max_body), "--parent", str(os.getpid()),
        "--heavy", str(heavy_limit(fronts)),
        *(argument for fd in fds for argument in ("--fd", str(fd))),
    ]  # fmt: skip
    return SupervisedChild(name, command, say, pass_fds=fds)


def serve(
    *,
    bind: str,
    port: int,
    workers: int,
    threads: int,
    inherited: Sequence[socket.socket] = (),
    when_ready: Callable | None = None,
) -> None:
    """Serve the WSGI app with gunicorn (threaded workers, persistent DB connections).
    ``inherited``: sockets of ``up`` that the forked workers close at once;
    ``when_ready(arbiter)``: once gunicorn listens, before its workers start."""
    from gunicorn.app.base import BaseApplication

    from central import gunicorn_conf
    from central.wsgi import application

    dies_with_up = dies_with(os.getpid())

    @functools.wraps(gunicorn_conf.post_fork)
    def post_fork(server, worker):
        # A worker never accepts on up's port: it must not keep it open either.
        for sock in inherited:
            sock.close()
        # up killed: the worker goes at once, not after a graceful exit that took
        # 5-10 s on a loaded machine (its answers have no front to go to).
        if dies_with_up is not None:
            dies_with_up()
        gunicorn_conf.post_fork(server, worker)

    class PlatformServer(BaseApplication):
        def load_config(self):
            for name in (
                "worker_class", "accesslog", "logconfig_dict", "graceful_timeout",
                "post_request", "on_starting",
            ):  # fmt: skip
                self.cfg.set(name, getattr(gunicorn_conf, name))
            self.cfg.set("post_fork", post_fork)
            if when_ready is not None:
                self.cfg.set("when_ready", when_ready)
            self.cfg.set("bind", bind)
            # Issue 20 finding 7: gunicorn's control socket defaults to one path per
            # user ($HOME/.gunicorn), which a second deployment on the host takes over.
            data = settings.BASE_DIR / ".data"
            data.mkdir(exist_ok=True)
            self.cfg.set("control_socket", str(data / f"gunicorn-{port}.ctl"))
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            # Issue 16, the tail: a worker takes a connection only while a thread of
            # it is free, and answers it on a connection of its own (the front's
            # ``Connection: close``), so no request waits in one worker's queue
            # while another worker has a free thread: requests wait in the
            # socket's backlog, in arrival order, for the next free thread of any
            # worker (tests/test_up_serving.py
            # ``test_no_worker_queues_a_request_while_a_thread_is_free``).
            self.cfg.set("worker_connections", threads)
            self.cfg.set("keepalive", 0)

        def load(self):
            return application

    PlatformServer().run()
