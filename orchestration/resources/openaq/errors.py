"""Errors raised by the OpenAQ v3 source.

Messages name the URL and status but never the API key: they end up in run logs and the UI.
"""


class OpenAQError(Exception):
    """Any failure talking to OpenAQ that retrying will not fix."""


class OpenAQAuthError(OpenAQError):
    """The API key is missing or rejected (HTTP 401)."""


class OpenAQGoneError(OpenAQError):
    """The endpoint is retired (HTTP 410): v1 and v2 answer this since v3 replaced them."""


class OpenAQPageError(OpenAQError):
    """A locations page is malformed. The catalogue is small and everything hangs off it,
    so a broken one fails the run instead of being quarantined like a measurement page."""
