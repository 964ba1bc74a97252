"""Risk assessment of one accepted declaration: the channel, and the reasons an officer reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from clearway.declarations.domain import Channel
from clearway.declarations.models import Declaration

TRIGGER_WORDS = {"CONTROL-RED": Channel.RED, "CONTROL-YELLOW": Channel.YELLOW}


@dataclass
class ChannelDecision:
    """The outcome of risk assessment for one declaration."""

    channel: Channel
    reasons: list[str]
    details: dict[str, Any] = field(default_factory=dict)


def decide_channel(*, session: Session, declaration: Declaration) -> ChannelDecision:
    """Chooses the channel. Until selectivity profiles and a model are active every declaration goes green.

    Outside production, a trigger word in a goods description forces a channel (as CDS's trader test environment
    does), so every path can be demonstrated and tested.
    """
    settings = session.info.get("settings")
    if settings is None or settings.environment != "production":
        for item in declaration.document["goods_items"]:
            for word, channel in TRIGGER_WORDS.items():
                if word in item["description"].upper():
                    reason = f"test trigger word {word} in goods item {item['sequence']}'s description"
                    return ChannelDecision(channel, [reason], {"trigger_word": word})
    return ChannelDecision(Channel.GREEN, ["no selectivity profile or risk model is active: green by default"])
