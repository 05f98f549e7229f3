"""The HTTP edge to Genesys Cloud External Contacts: settings, auth, rate limiting, retries, typed results."""

from pipeline.genesys.auth import TokenProvider
from pipeline.genesys.client import ClientStats, GenesysClient
from pipeline.genesys.endpoints import API, MAX_BULK_ENTITIES, matches_external_id_first
from pipeline.genesys.models import KINDS, BulkEnrichResult, EntityError, EntityResult, Kind, ScanPage
from pipeline.genesys.ratelimit import RateLimiter, SlidingWindow
from pipeline.genesys.regions import REGION_DOMAINS
from pipeline.genesys.secret import Secret
from pipeline.genesys.settings import ClientSettings, settings_from

__all__ = [
    "API",
    "KINDS",
    "MAX_BULK_ENTITIES",
    "REGION_DOMAINS",
    "BulkEnrichResult",
    "ClientSettings",
    "ClientStats",
    "EntityError",
    "EntityResult",
    "GenesysClient",
    "Kind",
    "RateLimiter",
    "ScanPage",
    "Secret",
    "SlidingWindow",
    "TokenProvider",
    "matches_external_id_first",
    "settings_from",
]
