"""Factories for the shared work queues: internal notes on a record."""

from __future__ import annotations

import factory
from django.contrib.contenttypes.models import ContentType

from trustconsole.workqueue.models import Note


class NoteFactory(factory.django.DjangoModelFactory):
    """An internal note; pass `target` (a visitor, an account, a queue item) and
    `author`, whose username labels it."""

    class Meta:
        model = Note
        exclude = ("target",)

    organisation = factory.LazyAttribute(lambda n: n.target.organisation)
    content_type = factory.LazyAttribute(
        lambda n: ContentType.objects.get_for_model(n.target)
    )
    object_id = factory.LazyAttribute(lambda n: n.target.pk)
    author_label = factory.LazyAttribute(lambda n: n.author.username)
    body = factory.Sequence(lambda n: f"Internal note {n}")
