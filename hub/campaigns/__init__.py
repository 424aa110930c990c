"""Campaign files: their typed shape, and loading them with errors that point at the file, field and line."""

from hub.campaigns.duration import format_duration, parse_duration
from hub.campaigns.loader import campaign_files, find_campaign, load_campaign, load_campaigns
from hub.campaigns.spec import AudienceSpec, CampaignSpec, MessageSpec, RateLimit, Schedule, SendWindow

__all__ = [
    "AudienceSpec",
    "CampaignSpec",
    "MessageSpec",
    "RateLimit",
    "Schedule",
    "SendWindow",
    "campaign_files",
    "find_campaign",
    "format_duration",
    "load_campaign",
    "load_campaigns",
    "parse_duration",
]
