"""The `sinergi` command."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from sinergi.config import Settings

app = typer.Typer(help="Sinergi: satu data, satu linimasa (one data set, one case timeline).")
dlq_app = typer.Typer(help="Dead-letter stream: event yang gagal diproses (failed events).")
app.add_typer(dlq_app, name="dlq")

DataDir = Annotated[Path, typer.Option(help="Folder data lokal (local data folder)")]


@app.command()
def up(data_dir: DataDir = Path(".sinergi")) -> None:
    """Jalankan semuanya: nats-server, migrasi, tiga layanan (run the whole system)."""
    from sinergi.up import up as run_up

    run_up(data_dir)


@app.command()
def token(
    role: Annotated[str, typer.Option(help="rt, kader, kelurahan, kecamatan, agency_staff, …")],
    agency: Annotated[str | None, typer.Option(help="Kode instansi, mis. dspm")] = None,
    kecamatan: Annotated[str | None, typer.Option(help="Kode atau nama kecamatan")] = None,
    kelurahan: Annotated[str | None, typer.Option(help="Kode atau nama, mis. 'Lok Tuan'")] = None,
    rw: Annotated[int | None, typer.Option(min=1, help="Nomor RW")] = None,
    rt: Annotated[int | None, typer.Option(min=1, help="Nomor RT")] = None,
    subject: Annotated[str | None, typer.Option(help="Nama pengguna (sub)")] = None,
    hours: Annotated[float, typer.Option(min=0.01, max=24 * 30, help="Umur token (jam)")] = 8,
    data_dir: DataDir = Path(".sinergi"),
) -> None:
    """Cetak token dari penerbit bawaan, untuk mencoba API (a token for trying the API)."""
    from sinergi.auth import AUDIENCE, EMBEDDED_ISSUER, Principal, Role
    from sinergi.issuer import ensure_key, issue
    from sinergi.up import issuer_key_file

    if os.environ.get("SINERGI_ENVIRONMENT") == "production":
        raise typer.BadParameter(
            "penerbit bawaan tidak dipakai di production; minta token dari penyedia OIDC "
            "(the built-in issuer is not for production: ask the OIDC provider)"
        )
    try:
        chosen = Role(role)
    except ValueError:
        raise typer.BadParameter(
            f"peran tidak dikenal (unknown role); one of {', '.join(r.value for r in Role)}",
            param_hint="--role",
        ) from None
    key_file = Path(os.environ.get("SINERGI_AUTH_KEY_FILE") or issuer_key_file(data_dir))
    principal = Principal(
        subject=subject or f"{chosen.value}-coba",
        role=chosen,
        agency=agency,
        kecamatan=kecamatan and _area_code(kecamatan, "kecamatan", "--kecamatan"),
        kelurahan=kelurahan and _area_code(kelurahan, "kelurahan", "--kelurahan"),
        rw=rw,
        rt=rt,
    )
    try:
        signed = issue(
            ensure_key(key_file),
            principal,
            issuer=os.environ.get("SINERGI_AUTH_ISSUER", EMBEDDED_ISSUER),
            audience=os.environ.get("SINERGI_AUTH_AUDIENCE", AUDIENCE),
            lifetime_seconds=hours * 3600,
        )
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    typer.echo(signed)


def _area_code(value: str, level: str, option: str) -> str:
    """A Bontang area's Kemendagri code, from its code or its name."""
    from services.registry.areas import areas

    for area in areas().values():
        if area.level == level and value.strip().lower() in (area.code, area.name.lower()):
            return area.code
    known = ", ".join(a.name for a in areas().values() if a.level == level)
    raise typer.BadParameter(f"{level} tidak dikenal (unknown); one of {known}", param_hint=option)


@app.command()
def serve(
    service: str,
    migrate: Annotated[bool, typer.Option(help="Jalankan migrasi dulu (migrate first)")] = False,
) -> None:
    """Jalankan satu layanan dari variabel SINERGI_* (run one service from SINERGI_* env);
    `console` runs the web console."""
    import gc

    import uvicorn

    from sinergi.catalogue import CONSOLE, definition
    from sinergi.config import Settings
    from sinergi.logs import configure_logging
    from sinergi.migrate import upgrade
    from sinergi.service import create_service_app

    settings = Settings.for_console() if service == CONSOLE else Settings()  # from the env
    configure_logging(level=settings.log_level, json_lines=settings.log_json)
    if service == CONSOLE:  # pages over the services' APIs: no database, no NATS of its own
        from services.console.app import create_console_app

        fastapi_app = create_console_app(settings)
    else:
        if migrate:
            asyncio.run(upgrade(service, settings))
        fastapi_app = create_service_app(definition(service), settings)
    # Objects alive after start-up never die; freezing them keeps full collections short.
    gc.freeze()
    uvicorn.run(
        fastapi_app,
        host=settings.http_host,
        port=settings.http_port or 8000,
        log_config=None,
        access_log=False,
        # An open SSE stream must not hold the shutdown until `sinergi up` kills the process.
        timeout_graceful_shutdown=5,
    )


@app.command()
def migrate(service: str) -> None:
    """Jalankan migrasi database satu layanan (migrate one service's database)."""
    from sinergi.config import Settings
    from sinergi.migrate import upgrade

    asyncio.run(upgrade(service, Settings()))


@app.command("import")
def import_file(
    path: Annotated[Path, typer.Argument(help="Berkas XLSX atau CSV dari RT")],
    report: Annotated[Path | None, typer.Option(help="Laporan baris ditolak (CSV)")] = None,
    data_dir: DataDir = Path(".sinergi"),
) -> None:
    """Impor rumah tangga dan anggota dari XLSX/CSV ke registry (bulk import).

    The registry's database comes from SINERGI_DATABASE_URL, or the `sinergi up` data folder.
    The events wait in the registry's outbox; its relay publishes them.
    """
    from services.registry.import_api import describe, report_path_for, run_import
    from services.registry.import_files import FileRejected

    settings = registry_settings(data_dir)
    try:
        summary = run_import(path, settings, report=report)
    except FileRejected as error:
        typer.echo(f"{error.pesan} ({error.message})", err=True)
        raise typer.Exit(2) from None
    typer.echo(describe(summary))
    typer.echo(f"laporan (report): {report or report_path_for(path)}")


@app.command()
def demo(
    households: Annotated[
        int, typer.Option(min=1, max=50_000, help="Jumlah rumah tangga (households)")
    ] = 2000,
    seed: Annotated[
        int, typer.Option(help="Benih acak: sama = data sama (same seed, same data)")
    ] = 2026,
    data_dir: DataDir = Path(".sinergi"),
) -> None:
    """Isi registry dengan data contoh Kota Bontang (fill the registry with synthetic data).

    Households of all 15 kelurahan with members, NIKs, assessments, measured under-fives and
    some planted duplicates without NIK, imported as an RT's spreadsheet is. The events wait
    in the registry's outbox; the running registry publishes them (`sinergi up`).
    """
    from datetime import date

    from services.registry.demo import generate
    from services.registry.demo_load import describe, load
    from services.registry.models import tables
    from sinergi.db import create_engine
    from sinergi.outbox import UnitOfWork

    settings = registry_settings(data_dir)
    data = generate(households=households, seed=seed, today=date.today())

    async def run() -> str:
        engine = create_engine(settings.database_url, schema=settings.database_schema)
        uow = UnitOfWork(engine=engine, outbox=tables.outbox, on_commit=lambda: None)
        try:
            return describe(await load(uow, engine, data))
        finally:
            await engine.dispose()

    typer.echo(asyncio.run(run()))


@app.command("nats-config")
def nats_config(
    directory_file: Annotated[
        Path | None, typer.Option(help="Direktori dinas (agency directory); default: bawaan")
    ] = None,
    env: Annotated[
        bool, typer.Option("--env", help="Cetak kata sandi acak sebagai .env (random passwords)")
    ] = False,
) -> None:
    """Pengguna NATS dan izinnya untuk klaster (the cluster's NATS users and permissions).

    Without --env: the `authorization` block deploy/nats/auth.conf holds, each password read
    from a NATS_PASSWORD_<USER> variable. With --env: one random password per user, as the
    lines of a compose `.env` file.
    """
    import secrets

    from services.referrals.directory import load
    from sinergi.natsauth import deployed_auth, password_variable, sinergi_users

    users = sinergi_users(password_variable, list(load(directory_file).agencies))
    if env:
        for user in users:
            typer.echo(f"{user.password.lstrip('$')}={secrets.token_urlsafe(24)}")
    else:
        typer.echo(deployed_auth(users), nl=False)


@app.command("streams")
def streams(nats: NatsOption = None, data_dir: DataDir = Path(".sinergi")) -> None:
    """Buat atau perbarui stream JetStream sebagai operator (create or update the streams).

    A service may create a missing stream but not change one; after a change of stream
    settings (SINERGI_STREAM_REPLICAS, SINERGI_DUPLICATE_WINDOW_SECONDS, a new release), run
    this as the operator (SINERGI_NATS_USER/PASSWORD, or the `sinergi up` data folder).
    """
    from sinergi.config import Settings
    from sinergi.streams import declare_streams

    servers = _nats_servers(nats, data_dir)
    url = os.environ.get("SINERGI_DATABASE_URL") or "sqlite+aiosqlite:///unused.db"
    settings = Settings(database_url=url, nats_servers=servers)
    asyncio.run(declare_streams(servers, settings, **_operator_options(data_dir)))
    typer.echo("stream siap (streams ready)")


@app.command("trail")
def processing_trail(
    nik: Annotated[str, typer.Argument(help="NIK orang itu (the person's NIK)")],
    referrals_database_url: Annotated[
        str | None,
        typer.Option(help="Basis data referrals (default: the `sinergi up` data folder's)"),
    ] = None,
    referrals_database_schema: Annotated[
        str | None, typer.Option(help="Skema PostgreSQL referrals (its schema)")
    ] = None,
    data_dir: DataDir = Path(".sinergi"),
) -> None:
    """Jejak pemrosesan data seseorang (UU PDP): yang disimpan dan siapa membacanya, JSON.

    The registry's database comes from SINERGI_DATABASE_URL, or the `sinergi up` data folder;
    the referrals service's from --referrals-database-url, or the same folder.
    """
    from sinergi.trail import as_json, trail

    if not (len(nik) == 16 and nik.isdigit()):
        raise typer.BadParameter("NIK 16 angka (a NIK is 16 digits)", param_hint="NIK")
    settings = registry_settings(data_dir)
    referrals_db = data_dir.resolve() / "referrals.db"
    referrals_url = referrals_database_url or (
        f"sqlite+aiosqlite:///{referrals_db.as_posix()}" if referrals_db.exists() else None
    )
    found = asyncio.run(
        trail(
            nik,
            settings.database_url,
            referrals_url,
            registry_schema=settings.database_schema,
            referrals_schema=referrals_database_schema,
        )
    )
    typer.echo(as_json(found))


def registry_settings(data_dir: Path) -> Settings:
    """The registry's settings for a command run beside it: from SINERGI_* when set, else
    the `sinergi up` data folder (its database migrated first, as `sinergi up` would)."""
    from sinergi.config import Settings

    if os.environ.get("SINERGI_DATABASE_URL"):
        return Settings()
    data_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite+aiosqlite:///{(data_dir.resolve() / 'registry.db').as_posix()}"
    servers = _nats_servers(None, data_dir) if nats_known(data_dir) else ["nats://127.0.0.1:4333"]
    settings = Settings(database_url=url, nats_servers=servers)
    asyncio.run(_migrate_registry(settings))
    return settings


def nats_known(data_dir: Path) -> bool:
    from sinergi.up import nats_url_file

    return bool(os.environ.get("SINERGI_NATS_SERVERS")) or nats_url_file(data_dir).exists()


async def _migrate_registry(settings: Settings) -> None:
    from sinergi.migrate import upgrade

    await upgrade("registry", settings)


@app.command()
def docs(
    out: Annotated[Path, typer.Option(help="Folder contracts/")] = Path("contracts"),
) -> None:
    """Tulis ulang JSON Schema dan AsyncAPI (regenerate JSON Schemas and AsyncAPI)."""
    from sinergi.docs import write_documents

    for path in write_documents(out):
        typer.echo(f"ditulis (written) {path}")


def _nats_servers(nats: str | None, data_dir: Path) -> list[str]:
    from sinergi.up import nats_url_file

    if nats:
        return nats.split(",")
    if os.environ.get("SINERGI_NATS_SERVERS"):
        return os.environ["SINERGI_NATS_SERVERS"].split(",")
    url_file = nats_url_file(data_dir)
    if url_file.exists():
        return [url_file.read_text().strip()]
    raise typer.BadParameter(
        "tidak tahu alamat NATS: jalankan `sinergi up` atau beri --nats "
        "(NATS address unknown: run `sinergi up` or pass --nats)"
    )


def _operator_options(data_dir: Path) -> dict[str, Any]:
    """Connection options for the command line: as SINERGI_NATS_USER (with
    SINERGI_NATS_PASSWORD) if given, else as the embedded server's operator."""
    from sinergi.natsauth import OPERATOR, EmbeddedPasswords, connect_options
    from sinergi.up import nats_users_file

    user = os.environ.get("SINERGI_NATS_USER")
    password = os.environ.get("SINERGI_NATS_PASSWORD")
    if not user and nats_users_file(data_dir).exists():
        user, password = OPERATOR, EmbeddedPasswords(nats_users_file(data_dir))(OPERATOR)
    return connect_options(user, password)


async def _operator_connection(nats: str | None, data_dir: Path) -> Any:
    import nats as nats_py

    return await nats_py.connect(
        servers=_nats_servers(nats, data_dir), **_operator_options(data_dir)
    )


NatsOption = Annotated[str | None, typer.Option("--nats", help="URL NATS, dipisah koma")]


@dlq_app.command("list")
def dlq_list(
    nats: NatsOption = None,
    consumer: Annotated[str | None, typer.Option(help="Hanya consumer ini")] = None,
    data_dir: DataDir = Path(".sinergi"),
) -> None:
    """Daftar event di dead-letter stream (list dead letters)."""
    from sinergi.dlq import list_dead_letters

    async def run() -> None:
        nc = await _operator_connection(nats, data_dir)
        try:
            for letter in await list_dead_letters(nc.jetstream(), consumer=consumer):
                typer.echo(
                    json.dumps(
                        {
                            "dlq_seq": letter.dlq_seq,
                            "consumer": letter.consumer,
                            "subject": letter.original_subject,
                            "stream_seq": letter.original_seq,
                            "deliveries": letter.deliveries,
                            "type": letter.event_type,
                            "id": letter.event_id,
                            "data": letter.data.decode(errors="replace")[:500],
                        },
                        ensure_ascii=False,
                    )
                )
        finally:
            await nc.close()

    asyncio.run(run())


@dlq_app.command("replay")
def dlq_replay(
    dlq_seq: Annotated[list[int], typer.Argument(help="Nomor urut di DLQ (dlq_seq)")],
    nats: NatsOption = None,
    data_dir: DataDir = Path(".sinergi"),
) -> None:
    """Putar ulang event dari dead-letter stream (replay dead letters)."""
    from sinergi.dlq import replay_dead_letter

    async def run() -> None:
        nc = await _operator_connection(nats, data_dir)
        try:
            for seq in dlq_seq:
                letter = await replay_dead_letter(nc.jetstream(), seq)
                typer.echo(f"diputar ulang (replayed) {seq} → {letter.original_subject}")
        finally:
            await nc.close()

    asyncio.run(run())


rebuild_app = typer.Typer(help="Bangun ulang proyeksi dari JetStream (rebuild projections).")
app.add_typer(rebuild_app, name="rebuild")


@rebuild_app.command("timeline")
def rebuild_timeline(nats: NatsOption = None, data_dir: DataDir = Path(".sinergi")) -> None:
    """Bangun ulang linimasa kasus dari stream (rebuild the case timeline from the stream).

    Safe while the referrals service runs: the new timeline replaces the old in one short
    transaction, identical entries stay. The database comes from SINERGI_DATABASE_URL (and
    SINERGI_DATABASE_SCHEMA), or the `sinergi up` data folder.
    """
    from services.referrals.rebuild import rebuild_timeline as rebuild
    from sinergi.config import Settings
    from sinergi.migrate import upgrade

    servers = _nats_servers(nats, data_dir)
    if os.environ.get("SINERGI_DATABASE_URL"):
        settings = Settings(nats_servers=servers)
    else:
        url = f"sqlite+aiosqlite:///{(data_dir.resolve() / 'referrals.db').as_posix()}"
        settings = Settings(database_url=url, nats_servers=servers)

    async def run() -> str:
        from nats.js.errors import NotFoundError

        await upgrade("referrals", settings)
        nc = await _operator_connection(nats, data_dir)
        try:
            return (await rebuild(settings, nc.jetstream())).describe()
        except NotFoundError:
            typer.echo(
                "stream SINERGI_EVENTS tidak ada di NATS ini (no SINERGI_EVENTS stream here)",
                err=True,
            )
            raise typer.Exit(2) from None
        finally:
            await nc.close()

    typer.echo(asyncio.run(run()))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
