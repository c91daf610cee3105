"""Credentials for the price APIs, from the usual places; never shown in logs, reprs or errors.

- AWS: explicit keys, else boto3's default chain (environment, IRSA web identity,
  shared files, instance profile).
- GCP: an API key (explicit or ``KCOST_GCP_API_KEY``), else Application Default
  Credentials (GKE workload identity, ``GOOGLE_APPLICATION_CREDENTIALS``).
- Azure (billed costs only; the Retail Prices API needs none): an explicit service
  principal, else ``DefaultAzureCredential`` (environment, workload identity, managed identity).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from kcost.analyzers.pricing.errors import PricingError, PricingUnavailable
from kcost.config import Config

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

GCP_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
REDACTED = "<redacted>"


@dataclass(frozen=True)
class AwsCredentials:
    """Explicit AWS keys; all empty means boto3's default chain (environment, IRSA, instance profile)."""

    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"AwsCredentials({'explicit ' + REDACTED if self.access_key_id else 'default chain'})"

    def session_kwargs(self) -> dict[str, str]:
        """Keyword arguments for ``boto3.Session``: empty for the default chain."""
        if not self.access_key_id:
            return {}
        if not self.secret_access_key:
            raise PricingError("AWS credentials: an access key id was given without its secret access key")
        kwargs = {"aws_access_key_id": self.access_key_id, "aws_secret_access_key": self.secret_access_key}
        if self.session_token:
            kwargs["aws_session_token"] = self.session_token
        return kwargs


class GcpAuth(Protocol):
    """Something that authenticates a Cloud Billing Catalog request."""

    async def headers(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class GcpApiKey:
    """An API key, sent in the ``X-Goog-Api-Key`` header rather than ``?key=`` so it never sits in a URL."""

    key: str = field(repr=False)

    def __repr__(self) -> str:
        return f"GcpApiKey({REDACTED})"

    async def headers(self) -> dict[str, str]:
        return {"X-Goog-Api-Key": self.key}


class GcpApplicationDefault:
    """Application Default Credentials (workload identity, a mounted key file): an OAuth bearer token.

    google-auth refreshes with blocking HTTP, so it runs in a thread.
    """

    def __init__(self) -> None:
        self._credentials: Any = None

    def __repr__(self) -> str:
        return "GcpApplicationDefault()"

    def _token(self) -> str:
        # google-auth (with requests and cryptography) only where GCP prices come by OAuth.
        import google.auth  # noqa: PLC0415
        import google.auth.exceptions  # noqa: PLC0415
        import google.auth.transport.requests  # noqa: PLC0415

        try:
            if self._credentials is None:
                self._credentials, _project = google.auth.default(scopes=GCP_SCOPES)
            if not self._credentials.valid:
                self._credentials.refresh(google.auth.transport.requests.Request())
        except google.auth.exceptions.DefaultCredentialsError:
            raise PricingError(
                "GCP credentials: none found; give an API key (KCOST_GCP_API_KEY or a Secret) "
                "or run with workload identity / GOOGLE_APPLICATION_CREDENTIALS"
            ) from None
        except google.auth.exceptions.TransportError as error:
            raise PricingUnavailable(f"GCP credentials: token endpoint unreachable: {str(error)[:200]}") from None
        except google.auth.exceptions.RefreshError as error:
            # google-auth puts the token endpoint's answer in the first argument, never the secret.
            reason = error.args[0] if error.args else type(error).__name__
            raise PricingError(f"GCP credentials: token refresh refused: {reason}") from None
        return str(self._credentials.token)

    async def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await asyncio.to_thread(self._token)}"}


def gcp_auth_from_env(api_key: str | None = None) -> GcpAuth:
    """The explicit key, else ``KCOST_GCP_API_KEY``, else Application Default Credentials."""
    key = api_key or Config.from_env().gcp_api_key
    return GcpApiKey(key) if key else GcpApplicationDefault()


@dataclass(frozen=True)
class AzureCredentials:
    """An explicit service principal; all empty means ``DefaultAzureCredential``."""

    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        who = f"client {self.client_id}, secret {REDACTED}" if self.client_secret else "default chain"
        return f"AzureCredentials({who})"

    def token_credential(self) -> TokenCredential:
        """An azure-identity credential for the management SDKs."""
        # Imported here: azure-identity is about 16 MiB, and only billed Azure costs need it (not the operator).
        from azure.identity import ClientSecretCredential, DefaultAzureCredential  # noqa: PLC0415

        if self.client_secret:
            if not (self.tenant_id and self.client_id):
                raise PricingError("Azure credentials: a client secret needs tenant_id and client_id too")
            return ClientSecretCredential(self.tenant_id, self.client_id, self.client_secret)
        return DefaultAzureCredential()
