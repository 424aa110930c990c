"""WhatsApp content templates: placeholders, approval rules, the send guard, and the registry service."""

from hub.templates.approval import (
    BLOCKING,
    Category,
    approval_warning,
    blocks_sending,
    normalize_status,
    parse_category,
    refusal_reason,
)
from hub.templates.guard import TemplateNotSendable, assert_sendable
from hub.templates.variables import body_problems, content_variable_problems, declared_variables

__all__ = [
    "BLOCKING",
    "Category",
    "TemplateNotSendable",
    "approval_warning",
    "assert_sendable",
    "blocks_sending",
    "body_problems",
    "content_variable_problems",
    "declared_variables",
    "normalize_status",
    "parse_category",
    "refusal_reason",
]
