"""``ketasim clinic init|create-user|serve|backup|restore``: the web clinic (``ketasim.clinic``, imported lazily).

Needs the clinic extra: ``pip install -e ".[clinic]"``. ``--db`` takes an SQLAlchemy URL
(``sqlite:///clinic.db``, ``postgresql+psycopg://user@host/db``); default ``$KETASIM_CLINIC_DB`` or
``ketasim-clinic.db`` in the working folder.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import typer

from ketasim.errors import KetasimError
from ketasim.interfaces.app import app

clinic_app = typer.Typer(help="The web clinic: patient records, alerts, forecasts and reports "
                         "(research and decision-support software, not a medical device).", no_args_is_help=True)
app.add_typer(clinic_app, name="clinic")

DB_HELP = "Database URL: sqlite:///PATH or postgresql+psycopg://USER@HOST/DB (default $KETASIM_CLINIC_DB or " \
          "ketasim-clinic.db here)."


class ClinicNotInstalled(KetasimError):
    pass


def _clinic():
    try:
        import ketasim.clinic.server as server
    except ModuleNotFoundError as exc:
        raise ClinicNotInstalled(f"the clinic needs the package {exc.name!r}: install it with "
                                 "pip install -e \".[clinic]\"") from None
    return server


def _url(db: str | None) -> str:
    from ketasim.clinic.settings import default_db_url

    return db or default_db_url()


@clinic_app.command("init")
def init(db: str = typer.Option(None, "--db", help=DB_HELP),
         timezone: str = typer.Option("UTC", help="The clinic's time zone (IANA name, e.g. Europe/Berlin)."),
         name: str = typer.Option("ketasim clinic", help="The clinic's name, shown on every page.")) -> None:
    """Create the clinic database or bring its schema up to date (nothing is overwritten)."""
    server = _clinic()
    url = _url(db)
    server.init_db(url, timezone=timezone, name=name)
    typer.echo(f"clinic database ready: {url}")


@clinic_app.command("create-user")
def create_user(email: str = typer.Argument(..., help="The user's e-mail address (the login)."),
                role: str = typer.Option(..., "--role", help="admin | clinician | viewer"),
                password_stdin: bool = typer.Option(False, "--password-stdin",
                                                    help="Read the password from standard input."),
                name: str = typer.Option("", help="The user's name, as shown to colleagues."),
                db: str = typer.Option(None, "--db", help=DB_HELP)) -> None:
    """Add a user (passwords of 10 or more characters, stored as Argon2 hashes)."""
    _clinic()
    from ketasim.clinic.db import Database
    from ketasim.clinic.security import create_user as make_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    user = make_user(Database(_url(db)), email, password, role, name=name)
    typer.echo(f"user {user.email} ({user.role}) created")


@clinic_app.command("serve")
def serve(db: str = typer.Option(None, "--db", help=DB_HELP),
          host: str = typer.Option("127.0.0.1", help="Address to listen on."),
          port: int = typer.Option(8000, help="Port to listen on."),
          demo: bool = typer.Option(False, "--demo", help="Start a demo clinic with synthetic patients (a fresh "
                                    "SQLite file in a temporary folder unless --db is given) and print its logins."),
          worker: bool = typer.Option(True, "--worker/--no-worker", help="Run the forecast worker beside the server."),
          idle_minutes: int = typer.Option(30, help="Page sessions end after this many idle minutes."),
          secure_cookies: bool = typer.Option(False, help="Mark cookies Secure (behind HTTPS)."),
          ) -> None:
    """Serve the clinic's pages and API (and recompute forecasts in a worker process)."""
    server = _clinic()
    from ketasim.clinic.settings import ServerConfig, sqlite_url

    if not 1 <= port <= 65535:
        raise KetasimError(f"--port = {port}: allowed 1-65535")
    if not 1 <= idle_minutes <= 24 * 60:
        raise KetasimError(f"--idle-minutes = {idle_minutes}: allowed 1-1440")
    if demo:
        url = db or sqlite_url(Path(tempfile.mkdtemp(prefix="ketasim-demo-")) / "demo-clinic.db")
        database = server.init_db(url, name="ketasim demo clinic")
        from ketasim.clinic.demo import create_demo

        logins = create_demo(database)
        typer.echo(f"demo clinic (synthetic patients) in {url}")
        for email, password in logins.items():
            typer.echo(f"  login: {email}  password: {password}")
    else:
        url = _url(db)
        from ketasim.clinic import migrate
        from ketasim.clinic.db import Database

        database = Database(url)
        if migrate.current_revision(database) != migrate.head_revision():
            raise KetasimError(f"--db {url}: the schema is not up to date: run `ketasim clinic init --db {url}`")
    typer.echo(f"serving on http://{host}:{port}  (forecast worker {'on' if worker else 'off'})")
    server.serve(ServerConfig(db_url=url, idle_minutes=idle_minutes, secure_cookies=secure_cookies,
                              run_worker=worker), host=host, port=port)


@clinic_app.command("backup")
def backup(out: Path = typer.Option(..., "--out", help="The backup file to write (JSON)."),
           db: str = typer.Option(None, "--db", help=DB_HELP)) -> None:
    """Write the whole clinic (except logins) to one file, from a consistent snapshot."""
    _clinic()
    from ketasim.clinic.backup import backup as do_backup
    from ketasim.clinic.db import Database

    counts = do_backup(Database(_url(db)), out)
    typer.echo(f"wrote {out}: {counts.get('patients', 0)} patients, {counts.get('scores', 0)} questionnaires, "
               f"{counts.get('audit_log', 0)} audit entries")


@clinic_app.command("restore")
def restore(file: Path = typer.Argument(..., help="A backup file written by `ketasim clinic backup`."),
            db: str = typer.Option(None, "--db", help=DB_HELP + " Must be empty.")) -> None:
    """Restore a backup into an empty database (users log in again; their passwords are kept)."""
    _clinic()
    from ketasim.clinic.backup import restore as do_restore
    from ketasim.clinic.db import Database

    counts = do_restore(Database(_url(db)), file)
    typer.echo(f"restored {file}: {counts.get('patients', 0)} patients, {counts.get('scores', 0)} questionnaires")
