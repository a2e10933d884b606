from django.conf import settings


def site(request):
    return {"sers_contact": settings.SERS_CONTACT}
