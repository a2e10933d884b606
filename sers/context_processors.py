from django.conf import settings
from django.db.models import Q

from articulations.models import Consortium


def site(request):
    return {"sers_contact": contact_for(request.user)}


def contact_for(user) -> dict:
    """The office a signed-in person deals with: their consortium's, found through their high
    school (students), their schools (teachers) or their district (district staff); the
    site's own contact (settings.SERS_CONTACT) for everyone else. One query, none when
    nobody is signed in."""
    if not user.is_authenticated:
        return settings.SERS_CONTACT
    consortium = (
        Consortium.objects.filter(
            Q(schools__students__user=user)
            | Q(schools__teachers__user=user)
            | Q(districts__district_staff__user=user)
        )
        .order_by("pk")
        .first()
    )
    return consortium.contact if consortium else settings.SERS_CONTACT
