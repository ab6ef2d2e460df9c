"""Running the service: ``apikey create|list|revoke``, ``cases list|assign|close`` and
``user add|list|remove``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cxroi.cli._app import Format, FormatOpt, TableOpt, WorkspaceOpt, app, open_workspace
from cxroi.cli._render import emit
from cxroi.cli._safe import plain

apikey_app = typer.Typer(help="API keys for the admin API.", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")
cases_app = typer.Typer(help="Close-the-loop cases.", no_args_is_help=True)
app.add_typer(cases_app, name="cases")

CaseArg = Annotated[str, typer.Argument(help="Case id (cxroi cases list).")]


def _journal(workspace: Path):
    from cxroi.service.journal import Journal

    return Journal.of(workspace)


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Option(help="Who or what uses it.")],
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Make an API key; it is printed once, as the last word, and stored hashed."""
    from cxroi.service.apikeys import create_key

    key, secret = create_key(_journal(workspace), name)
    typer.echo(plain(f"api key {key.key_id} ({key.name}) created; it is shown only now: ") + secret)


@apikey_app.command("list")
def apikey_list(
    workspace: WorkspaceOpt = Path("."), format: FormatOpt = Format.table, table: TableOpt = None
) -> None:
    """Every key: id, name, made, revoked (never the key)."""
    from cxroi.service.apikeys import keys_result

    emit(keys_result(_journal(workspace)), format, table=table)


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: Annotated[str, typer.Argument(help="Key id (cxroi apikey list).")],
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Revoke a key: it stops working at once."""
    from cxroi.service.apikeys import revoke_key

    key = revoke_key(_journal(workspace), key_id)
    typer.echo(plain(f"api key {key.key_id} ({key.name}) revoked"))


@cases_app.command("list")
def cases_list(
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    owner: Annotated[str | None, typer.Option(help="Only this owner's.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 1000,
    workspace: WorkspaceOpt = Path("."),
    format: FormatOpt = Format.table,
    table: TableOpt = None,
) -> None:
    """Cases, newest first, with the answer that opened each."""
    from cxroi.service.cases import cases_result

    with open_workspace(workspace, "cases list") as ws:
        emit(cases_result(ws, status=status, owner=owner, limit=limit), format, table=table)


@cases_app.command("assign")
def cases_assign(
    case_id: CaseArg,
    owner: Annotated[str, typer.Option(help="Who follows it up.")],
    workspace: WorkspaceOpt = Path("."),
    format: FormatOpt = Format.table,
) -> None:
    """Give a case to an owner."""
    from cxroi.service.cases import assign_case

    with open_workspace(workspace, "cases assign", write=True) as ws:
        emit(assign_case(ws, case_id, owner), format)


@cases_app.command("close")
def cases_close(
    case_id: CaseArg,
    outcome: Annotated[str, typer.Option(help="What was done (redacted like every note).")],
    notes: Annotated[str | None, typer.Option(help="Notes (redacted).")] = None,
    workspace: WorkspaceOpt = Path("."),
    format: FormatOpt = Format.table,
) -> None:
    """Close a case with its outcome."""
    from cxroi.service.cases import close_case

    with open_workspace(workspace, "cases close", write=True) as ws:
        emit(close_case(ws, case_id, outcome, notes=notes), format)


user_app = typer.Typer(help="Dashboard users and their roles.", no_args_is_help=True)
app.add_typer(user_app, name="user")


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option(help="viewer, analyst or admin.")] = "viewer",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Add a dashboard user (or set a user's role and password); asks for the password."""
    import sys

    from cxroi.service.users import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    add_user(_journal(workspace), username, role, password)
    typer.echo(plain(f"user {username} ({role}) saved"))


@user_app.command("list")
def user_list(
    workspace: WorkspaceOpt = Path("."), format: FormatOpt = Format.table, table: TableOpt = None
) -> None:
    """Every dashboard user and role."""
    from cxroi.service.users import users_result

    emit(users_result(_journal(workspace)), format, table=table)


@user_app.command("remove")
def user_remove(
    username: Annotated[str, typer.Argument(help="User name.")],
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Remove a dashboard user; their sessions end at once."""
    from cxroi.service.users import remove_user

    remove_user(_journal(workspace), username)
    typer.echo(plain(f"user {username} removed"))
