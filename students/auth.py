"""Log in with a username or a SERS ID typed any way (``tp3 07 4412``)."""

from django.contrib.auth.backends import ModelBackend

from sers.sers_id import InvalidSersId, parse_sers_id
from students.models import Student


class UsernameOrSersIdBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username:
            try:
                sers_id = parse_sers_id(username)
            except InvalidSersId:
                pass
            else:
                student = Student.objects.select_related("user").filter(sers_id=sers_id).first()
                if student is not None:
                    username = student.user.get_username()
        return super().authenticate(request, username=username, password=password, **kwargs)


def username_for_throttling(request, credentials) -> str:
    """What django-axes counts failures against: a SERS ID in its one canonical form."""
    typed = (credentials or {}).get("username") or request.POST.get("username", "")
    try:
        return parse_sers_id(typed)
    except InvalidSersId:
        return typed.strip().lower()
