"""Database URLs safe to log: the host stays, the password never appears."""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

MASK = "***"


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***``; an unparsable URL is masked whole."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        # It may still hold a password; the scheme is all that is certainly safe to show.
        scheme, separator, _ = url.partition("://")
        return f"{scheme}{separator}{MASK}" if separator else MASK


def scrub(text: str, url: str) -> str:
    """``text`` (an error message, say) with ``url``'s password masked wherever it appears."""
    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):
        return text
    if not password:
        return text
    # A message may quote the password as given in the URL (percent-encoded) or as sent (decoded).
    for form in {str(password), quote(str(password), safe="")}:
        text = text.replace(form, MASK)
    return text
