"""The collection service's library: surveys, signed links, the durable intake journal, the
move into the store, invitations, API keys and the closed loop.

It holds every rule of the service and no web framework: :mod:`cxroi.api` (FastAPI) and the
``cxroi serve|survey|invite|apikey|cases`` commands only parse input and call it. Like
:mod:`cxroi.analyses`, it may take a :class:`~cxroi.store.Workspace`.

- :mod:`~cxroi.service.settings`: ``[service]`` and ``[cases]`` of ``cxroi.toml``;
- :mod:`~cxroi.service.surveys`: survey definitions and the answers they accept;
- :mod:`~cxroi.service.tokens`: HMAC-signed, expiring survey links;
- :mod:`~cxroi.service.journal`: the intake journal (SQLite WAL, group commit);
- :mod:`~cxroi.service.flush`: the move into the store, and the maintenance loop;
- :mod:`~cxroi.service.invitations`: invitations, the re-contact rule, reminders;
- :mod:`~cxroi.service.apikeys`: hashed API keys;
- :mod:`~cxroi.service.cases` and :mod:`~cxroi.service.notify`: the closed loop.
"""

from __future__ import annotations

from cxroi.service.journal import JOURNAL_FILE, Intake, Journal
from cxroi.service.settings import ServiceSettings, load_service_settings
from cxroi.service.surveys import Survey, add_survey, list_surveys, load_survey
from cxroi.service.tokens import Link, LinkSigner, TokenError

__all__ = [
    "JOURNAL_FILE",
    "Intake",
    "Journal",
    "Link",
    "LinkSigner",
    "ServiceSettings",
    "Survey",
    "TokenError",
    "add_survey",
    "list_surveys",
    "load_service_settings",
    "load_survey",
]
