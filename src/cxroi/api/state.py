"""What the service holds while it runs: settings, the journal, the link signer, the surveys.

One :class:`Service` per process, built by :func:`cxroi.api.main.create_app` and kept on
``app.state.service``; routes reach it through :mod:`cxroi.api.deps`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

from cxroi.config import load_settings
from cxroi.privacy import Redactor
from cxroi.service.cases import check_rules
from cxroi.service.flush import Maintenance
from cxroi.service.journal import Journal
from cxroi.service.settings import ServiceSettings, load_service_settings
from cxroi.service.surveys import SURVEY_DIR, Survey, load_survey
from cxroi.service.tokens import Link, LinkSigner, TokenError
from cxroi.store import Workspace

__all__ = ["Service"]

SURVEY_RECHECK = 1.0
"""Seconds a survey file is trusted before its modification time is looked at again."""


class Service:
    """The running service of one workspace.

    Parameters
    ----------
    folder
        The workspace folder.
    dev
        Accept the public development secret (never in production).
    rate_limit
        Requests per minute per client IP (``None``: ``[service] rate_limit``; 0: off).
    maintenance
        Run the background flush and notifications (tests may drive :meth:`flush` instead).
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        dev: bool = False,
        rate_limit: int | None = None,
        maintenance: bool = True,
    ):
        self.folder = Path(folder)
        self.settings: ServiceSettings = load_service_settings(self.folder, dev=dev)
        self.signer = LinkSigner(self.settings.secret_keys)  # refuses a default secret
        self.rate_limit = self.settings.rate_limit if rate_limit is None else rate_limit
        self.redactor = Redactor.from_config(load_settings(self.folder).section("privacy"))
        with Workspace.open(self.folder, read_only=True, purpose="serve") as ws:
            check_rules(ws, self.settings.cases)  # a rule that could never run: refuse now
        self.journal = Journal(self.folder, url=self.settings.journal)
        self.maintenance = (
            Maintenance(self.folder, self.journal, self.settings) if maintenance else None
        )
        self._surveys: dict[str, tuple[float, int, Survey]] = {}
        self.ready = False

    def start(self) -> None:
        self.journal.start()
        if self.maintenance is not None:
            self.maintenance.start()
        self.ready = True

    def stop(self) -> None:
        """Stop taking answers, commit those in flight, then move everything into the store."""
        self.ready = False
        self.journal.stop()
        if self.maintenance is not None:
            self.maintenance.stop()
        self.journal.close()

    @contextlib.contextmanager
    def running(self) -> Iterator[Service]:
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def survey(self, name: str) -> Survey:
        """Survey ``name``, re-read when its file changes (looked at once a second at most).

        Raises
        ------
        TokenError
            ``revoked`` when the survey's file is gone (the survey was withdrawn).
        """
        now = time.monotonic()
        hit = self._surveys.get(name)
        if hit is not None and now - hit[0] < SURVEY_RECHECK:
            return hit[2]
        path = self.folder / SURVEY_DIR / f"{name}.yaml"
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            raise TokenError("revoked", "this survey is closed") from None
        survey = hit[2] if hit is not None and hit[1] == stamp else load_survey(self.folder, name)
        self._surveys[name] = (now, stamp, survey)
        return survey

    def open_link(self, token: object) -> tuple[Link, Survey]:
        """Verify a link token and find its survey.

        Raises
        ------
        TokenError
            ``invalid``, ``expired`` or ``revoked`` (an open link of an older link version,
            or a withdrawn survey).
        """
        link = self.signer.verify(token, now=time.time())
        survey = self.survey(link.survey)
        if link.kind == "open" and link.version != survey.link_version:
            raise TokenError("revoked", "this survey link has been replaced")
        return link, survey
