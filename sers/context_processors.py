from django.conf import settings
from django.db.models import Q

from articulations.models import Consortium


def site(request):
    return {"sers_contact": contact_for(request.user)}


def consortium_of(user) -> Consortium | None:
    """The consortium a signed-in person belongs to: through their high school (students),
    their schools (teachers) or their district (district staff); None for anyone else. One
    query, none when nobody is signed in."""
    if not user.is_authenticated:
        return None
    return (
        Consortium.objects.filter(
            Q(schools__students__user=user)
            | Q(schools__teachers__user=user)
            | Q(districts__district_staff__user=user)
        )
        .order_by("pk")
        .first()
    )


def contact_for(user) -> dict:
    """The office a person deals with: their consortium's, or the site's own contact
    (settings.SERS_CONTACT) for everyone without one."""
    consortium = consortium_of(user)
    return consortium.contact if consortium else settings.SERS_CONTACT
