"""The vocabularies, shared by the rules, the models and the GraphQL schema (which registers them as its enums)."""

from __future__ import annotations

from enum import Enum


class AgentRole(str, Enum):
    AGENT = "AGENT"
    SUPERVISOR = "SUPERVISOR"


class AgentStatus(str, Enum):
    ONLINE = "ONLINE"
    AWAY = "AWAY"
    DO_NOT_DISTURB = "DO_NOT_DISTURB"
    OFFLINE = "OFFLINE"


class VisitorTier(str, Enum):
    NORMAL = "NORMAL"
    VIP = "VIP"
    ENTERPRISE = "ENTERPRISE"


class ThreadStatus(str, Enum):
    BOT = "BOT"
    QUEUED = "QUEUED"
    ACTIVE = "ACTIVE"
    RESOLVED = "RESOLVED"
    CLOSED = "CLOSED"


class ThreadClass(str, Enum):
    NORMAL = "NORMAL"
    VIP = "VIP"
    URGENT = "URGENT"


class CollaboratorRole(str, Enum):
    PRIMARY = "PRIMARY"
    EXPERT = "EXPERT"
    GUIDE = "GUIDE"
    OBSERVER = "OBSERVER"
    ASSISTANT = "ASSISTANT"


class Permission(str, Enum):
    READ = "READ"
    WRITE = "WRITE"
    ADMIN = "ADMIN"


class InviteType(str, Enum):
    EXPERT = "EXPERT"
    GUIDE = "GUIDE"
    OBSERVER = "OBSERVER"
    ASSISTANT = "ASSISTANT"
    TRANSFER = "TRANSFER"


class InviteStatus(str, Enum):
    PENDING_APPROVAL = "PENDING_APPROVAL"
    PENDING = "PENDING"
    DEFERRED = "DEFERRED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    WITHDRAWN = "WITHDRAWN"
    CANCELLED = "CANCELLED"


class Urgency(str, Enum):
    NORMAL = "NORMAL"
    HIGH = "HIGH"
    URGENT = "URGENT"


class InviteAction(str, Enum):
    ACCEPT = "ACCEPT"
    REJECT = "REJECT"
    DEFER = "DEFER"


class Priority(str, Enum):
    URGENT = "URGENT"
    HIGH = "HIGH"
    NORMAL = "NORMAL"
    LOW = "LOW"


class QueueEntryStatus(str, Enum):
    WAITING = "WAITING"
    ASSIGNED = "ASSIGNED"
    CANCELLED = "CANCELLED"
    OVERFLOWED = "OVERFLOWED"


class RoutingStrategy(str, Enum):
    MANUAL = "MANUAL"
    ROUND_ROBIN = "ROUND_ROBIN"
    LEAST_BUSY = "LEAST_BUSY"
    SKILL_BASED = "SKILL_BASED"
    HYBRID = "HYBRID"


class OverflowAction(str, Enum):
    LEAVE_MESSAGE = "LEAVE_MESSAGE"
    CALLBACK = "CALLBACK"
    ESCALATE = "ESCALATE"
    SELF_SERVICE = "SELF_SERVICE"


class TransferTrigger(str, Enum):
    VISITOR_REQUEST = "VISITOR_REQUEST"
    LOW_CONFIDENCE = "LOW_CONFIDENCE"
    REPEATED_FAILURE = "REPEATED_FAILURE"
    NEGATIVE_SENTIMENT = "NEGATIVE_SENTIMENT"
    KEYWORD = "KEYWORD"
    VIP_RULE = "VIP_RULE"
    BUSINESS_RULE = "BUSINESS_RULE"
    AGENT_REQUEST = "AGENT_REQUEST"


class Sentiment(str, Enum):
    POSITIVE = "POSITIVE"
    NEUTRAL = "NEUTRAL"
    NEGATIVE = "NEGATIVE"


class SenderKind(str, Enum):
    VISITOR = "VISITOR"
    BOT = "BOT"
    AGENT = "AGENT"
    SYSTEM = "SYSTEM"


class MessageVisibility(str, Enum):
    PUBLIC = "PUBLIC"
    INTERNAL = "INTERNAL"


class ErrorCode(str, Enum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    LIMIT_REACHED = "LIMIT_REACHED"
    RATE_LIMITED = "RATE_LIMITED"
    AGENT_UNAVAILABLE = "AGENT_UNAVAILABLE"
    NOT_ANSWERABLE = "NOT_ANSWERABLE"
    EXPIRED = "EXPIRED"
    FORBIDDEN_ACTION = "FORBIDDEN_ACTION"


class InviteEventKind(str, Enum):
    CREATED = "CREATED"
    APPROVED = "APPROVED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    DEFERRED = "DEFERRED"
    EXPIRED = "EXPIRED"
    WITHDRAWN = "WITHDRAWN"
    CANCELLED = "CANCELLED"


class ThreadEventKind(str, Enum):
    STATUS_CHANGED = "STATUS_CHANGED"
    QUEUED = "QUEUED"
    ASSIGNED = "ASSIGNED"
    COLLABORATOR_JOINED = "COLLABORATOR_JOINED"
    COLLABORATOR_LEFT = "COLLABORATOR_LEFT"
    COLLABORATOR_REMOVED = "COLLABORATOR_REMOVED"
    PERMISSION_CHANGED = "PERMISSION_CHANGED"
    PRIMARY_TRANSFERRED = "PRIMARY_TRANSFERRED"
    INVITE_CHANGED = "INVITE_CHANGED"


class ConversationEventKind(str, Enum):
    MESSAGE = "MESSAGE"
    TYPING = "TYPING"
    STATUS_CHANGED = "STATUS_CHANGED"


class Role(str, Enum):
    """A token's role claim."""

    AGENT = "agent"
    ADMIN = "admin"
    ANALYST = "analyst"
    SERVICE = "service"
    VISITOR = "visitor"
