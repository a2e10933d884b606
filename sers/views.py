from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from articulations.selectors import current_terms, home_consortium
from sers.context_processors import consortium_of
from sers.health import health_report


@require_GET
def home(request):
    # A signed-in student (or teacher, or district staff) reads their own consortium's dates.
    terms = current_terms(consortium_of(request.user) or home_consortium())
    return render(
        request,
        "home.html",
        {"terms": terms, "registration_state": terms.registration_state()},
    )


@never_cache
@require_GET
def healthz(request):
    healthy, report = health_report()
    return JsonResponse(report, status=200 if healthy else 503)
