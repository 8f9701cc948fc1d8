"""Factories for the core app: organisations, login users and their memberships."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from tests.conftest import PASSWORD
from trustconsole.core.choices import Role
from trustconsole.core.models import Membership, Organisation


class OrganisationFactory(factory.django.DjangoModelFactory):
    """A tenant with a unique name and slug."""

    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Organisation {n}")
    slug = factory.Sequence(lambda n: f"organisation-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    """A login user whose username is their email, with the tests' password."""

    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    username = factory.SelfAttribute("email")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def saved(obj, create: bool, extracted: object, **kwargs: object) -> None:  # noqa: N805
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    """A user's role in an organisation (a new user unless one is given)."""

    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    role = Role.OPERATOR
