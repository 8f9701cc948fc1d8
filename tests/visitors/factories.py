"""Factories for visitors, identifiers, signals and conversations."""

from __future__ import annotations

import factory

from visitors.choices import IdentifierKind, WeightLevel
from visitors.models import (
    Conversation,
    Message,
    RiskSignal,
    Visitor,
    VisitorIdentifier,
    Widget,
)


class VisitorFactory(factory.django.DjangoModelFactory):
    """A visitor with no status and a full trust score."""

    class Meta:
        model = Visitor

    name = factory.Sequence(lambda n: f"Visitor {n}")


class IdentifierFactory(factory.django.DjangoModelFactory):
    """An email identifier of a visitor."""

    class Meta:
        model = VisitorIdentifier

    visitor = factory.SubFactory(VisitorFactory)
    organisation = factory.SelfAttribute("visitor.organisation")
    kind = IdentifierKind.EMAIL
    value = factory.Sequence(lambda n: f"visitor{n}@example.com")


class SignalFactory(factory.django.DjangoModelFactory):
    """An active Medium (+20) signal; the visitor's score is not recomputed."""

    class Meta:
        model = RiskSignal

    visitor = factory.SubFactory(VisitorFactory)
    organisation = factory.SelfAttribute("visitor.organisation")
    signal_type = "spam"
    level = WeightLevel.MEDIUM
    weight = 20
    source = "console"
    added_by = "test"


class WidgetFactory(factory.django.DjangoModelFactory):
    """A chat widget with a fresh key."""

    class Meta:
        model = Widget

    name = factory.Sequence(lambda n: f"Website {n}")


class ConversationFactory(factory.django.DjangoModelFactory):
    """An open conversation of a visitor."""

    class Meta:
        model = Conversation

    visitor = factory.SubFactory(VisitorFactory)
    organisation = factory.SelfAttribute("visitor.organisation")


class MessageFactory(factory.django.DjangoModelFactory):
    """A visitor's message in a conversation."""

    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    organisation = factory.SelfAttribute("conversation.organisation")
    sender = "visitor"
    body = factory.Sequence(lambda n: f"Hello, message {n}")
