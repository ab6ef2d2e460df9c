"""Collecting feedback: ``serve``, ``flush``, ``survey add|list|link|revoke-link``,
``invite`` and ``remind``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer

from cxroi.cli._app import Format, FormatOpt, TableOpt, WorkspaceOpt, app, open_workspace
from cxroi.cli._render import emit
from cxroi.cli._safe import plain

survey_app = typer.Typer(help="Survey definitions and their links.", no_args_is_help=True)
app.add_typer(survey_app, name="survey")

DevOpt = Annotated[
    bool, typer.Option("--dev", help="Allow the public development secret (test workspaces).")
]
BaseUrlOpt = Annotated[
    str | None, typer.Option(help="Public address of `cxroi serve` (default: [service] base_url).")
]


@app.command()
def serve(
    workspace: WorkspaceOpt = Path("."),
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    rate_limit: Annotated[
        int | None,
        typer.Option(
            help="Requests per minute per client IP; 0 turns it off (default: "
            "[service] rate_limit, 600).",
            min=0,
        ),
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1, max=64)] = 1,
    access_log: Annotated[
        bool, typer.Option(help="Log each request (survey tokens hidden).")
    ] = True,
    dev: DevOpt = False,
) -> None:
    """Serve the collection API, the survey pages and the admin API until SIGTERM or Ctrl-C;
    answers still waiting are moved into the store before it exits."""
    from cxroi.api.server import serve as run

    limit = "" if rate_limit is None else f", rate limit {rate_limit or 'off'}"
    typer.echo(
        plain(
            f"cxroi serving {workspace.resolve()} on http://{host}:{port} ({workers} "
            f"worker{'s' if workers > 1 else ''}{limit}{', dev' if dev else ''})"
        ),
        err=True,
    )
    run(
        workspace,
        host=host,
        port=port,
        workers=workers,
        dev=dev,
        rate_limit=rate_limit,
        access_log=access_log,
    )


@app.command()
def flush(workspace: WorkspaceOpt = Path("."), dev: DevOpt = False) -> None:
    """Move answers waiting in the service's journal into the store now (also while the
    service runs), open their cases and send due notifications."""
    from cxroi.service.flush import flush as run
    from cxroi.service.journal import Journal
    from cxroi.service.notify import deliver_due
    from cxroi.service.settings import load_service_settings

    settings = load_service_settings(workspace, dev=True)
    journal = Journal(workspace, url=settings.journal)
    moved = cases = 0
    with journal.maintenance(wait=True):
        while True:
            r = run(workspace, journal, settings)
            moved, cases = moved + r.responses, cases + r.cases
            if not r.waiting:
                break
        sent = deliver_due(journal, settings.cases)
    typer.echo(
        f"moved {moved} answers into the store; opened {cases} cases; "
        f"{sent.delivered} notifications sent, {sent.retried} to retry"
    )


@survey_app.command("add")
def survey_add(
    name: Annotated[str, typer.Argument(help="Survey name (lower case, digits, - or _).")],
    question: Annotated[
        list[str] | None,
        typer.Option(
            "--question",
            "-q",
            help="nps, csat, ces or comment, in order (repeatable; default: nps and comment).",
        ),
    ] = None,
    rating: Annotated[
        list[str] | None, typer.Option("--rating", help="An attribute to rate (repeatable).")
    ] = None,
    rating_scale: Annotated[str, typer.Option(help="LOW,HIGH of the ratings.")] = "1,10",
    touchpoint: Annotated[str | None, typer.Option(help="The touchpoint it measures.")] = None,
    company: Annotated[str, typer.Option(help="How the questions name you.")] = "us",
    language: Annotated[
        list[str] | None,
        typer.Option(
            "--language",
            help="Languages, the default first (repeatable; built in: en, de, fr, es).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing survey.")] = False,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Define a survey in the workspace (surveys/NAME.yaml; edit it for wording)."""
    from cxroi.errors import CxroiError
    from cxroi.service.surveys import Survey, add_survey

    try:
        lo, hi = (int(x) for x in rating_scale.split(","))
    except ValueError:
        raise CxroiError(f"--rating-scale {rating_scale!r}: write LOW,HIGH such as 1,10") from None
    s = Survey(
        name=name,
        company=company,
        touchpoint=touchpoint,
        questions=tuple(question or ("nps", "comment")),
        ratings=tuple(rating or ()),
        rating_scale=(lo, hi),
        languages=tuple(language or ("en",)),
    )
    from cxroi.config import load_settings

    load_settings(workspace)  # a workspace, or a clear error
    path = add_survey(workspace, s, force=force)
    typer.echo(plain(f"survey {name} written to {path}"))


@survey_app.command("list")
def survey_list(
    workspace: WorkspaceOpt = Path("."), format: FormatOpt = Format.table, table: TableOpt = None
) -> None:
    """Every survey of the workspace."""
    from cxroi.config import load_settings
    from cxroi.service.surveys import list_surveys, surveys_result

    load_settings(workspace)
    emit(surveys_result(list_surveys(workspace)), format, table=table)


@survey_app.command("link")
def survey_link(
    name: Annotated[str, typer.Argument(help="Survey name.")],
    base_url: BaseUrlOpt = None,
    expires_days: Annotated[
        int | None, typer.Option(help="The link stops working after this many days.", min=1)
    ] = None,
    workspace: WorkspaceOpt = Path("."),
    format: FormatOpt = Format.table,
    dev: DevOpt = False,
) -> None:
    """The survey's open (anonymous) link: anyone with it may answer, once per visit."""
    from cxroi.service.invitations import survey_url
    from cxroi.service.settings import load_service_settings
    from cxroi.service.surveys import load_survey
    from cxroi.service.tokens import LinkSigner

    settings = load_service_settings(workspace, dev=dev)
    survey = load_survey(workspace, name)
    expires = None
    if expires_days is not None:
        expires = int((dt.datetime.now(dt.UTC) + dt.timedelta(days=expires_days)).timestamp())
    token = LinkSigner(settings.secret_keys).open_link(
        survey.name, version=survey.link_version, expires=expires
    )
    url = survey_url(base_url or settings.base_url, token)
    if format is Format.json:
        typer.echo(json.dumps({"url": url, "token": token}))
    elif format is Format.csv:
        typer.echo(f"url,token\r\n{url},{token}")
    else:
        typer.echo(url)


@survey_app.command("revoke-link")
def survey_revoke(
    name: Annotated[str, typer.Argument(help="Survey name.")], workspace: WorkspaceOpt = Path(".")
) -> None:
    """Stop the survey's open link (a new `survey link` gives the next one); invitations are
    not affected."""
    import dataclasses

    from cxroi.service.surveys import add_survey, load_survey

    s = load_survey(workspace, name)
    add_survey(workspace, dataclasses.replace(s, link_version=s.link_version + 1), force=True)
    typer.echo(plain(f"survey {name}: open links of version {s.link_version} no longer work"))


@app.command()
def invite(
    survey: Annotated[str, typer.Option(help="Survey to invite to.")],
    customers: Annotated[Path, typer.Option(help="File with a customer_id column.")],
    out: Annotated[
        Path | None, typer.Option(help="Write customer_id,token,url here (CSV).")
    ] = None,
    base_url: BaseUrlOpt = None,
    expires_days: Annotated[
        int | None, typer.Option(help="Links expire after this many days (default 30).")
    ] = None,
    recontact_days: Annotated[
        int | None,
        typer.Option(help="Skip customers invited within this many days (default 90).", min=0),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="Say who would be invited and suppressed; write nothing.")
    ] = False,
    workspace: WorkspaceOpt = Path("."),
    format: FormatOpt = Format.table,
    table: TableOpt = None,
    dev: DevOpt = False,
) -> None:
    """One signed, expiring link per customer; nobody invited twice within --recontact-days."""
    from cxroi.service.invitations import invite as run
    from cxroi.service.invitations import read_customer_ids
    from cxroi.service.settings import load_service_settings
    from cxroi.service.surveys import load_survey

    settings = load_service_settings(workspace, dev=dev)
    s = load_survey(workspace, survey)
    ids = read_customer_ids(customers)
    if dry_run and out is not None:
        from cxroi.errors import CxroiError

        raise CxroiError("--dry-run writes nothing: leave out --out")
    with open_workspace(workspace, "invite", write=not dry_run) as ws:
        done = run(
            ws,
            s,
            ids,
            settings,
            out=out,
            base_url=base_url,
            expires_days=expires_days,
            recontact_days=recontact_days,
            dry_run=dry_run,
        )
    emit(done.result, format, table=table)


@app.command()
def remind(
    survey: Annotated[str, typer.Option(help="Survey whose invitations to remind.")],
    out: Annotated[Path, typer.Option(help="Write customer_id,token,url here (CSV).")],
    after_days: Annotated[
        int | None, typer.Option(help="Remind after this many days (default 7).")
    ] = None,
    base_url: BaseUrlOpt = None,
    workspace: WorkspaceOpt = Path("."),
    format: FormatOpt = Format.table,
    dev: DevOpt = False,
) -> None:
    """Once per invitation: the links still unanswered after --after-days (same link)."""
    from cxroi.service.invitations import remind as run
    from cxroi.service.journal import Journal
    from cxroi.service.settings import load_service_settings
    from cxroi.service.surveys import load_survey

    settings = load_service_settings(workspace, dev=dev)
    s = load_survey(workspace, survey)
    with open_workspace(workspace, "remind", write=True) as ws:
        done = run(
            ws,
            Journal(workspace, url=settings.journal),
            s,
            settings,
            out=out,
            after_days=after_days,
            base_url=base_url,
        )
    emit(done.result, format)
