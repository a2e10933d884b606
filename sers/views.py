from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from articulations import defaults
from articulations.school_year import current_school_year, local_today
from sers.health import health_report


@require_GET
def home(request):
    school_year = current_school_year()
    return render(
        request,
        "home.html",
        {
            "school_year": school_year,
            "window_state": school_year.window_state(local_today()),
            "yearly_fee": defaults.CONSORTIUM_FEE,
            "late_fee": defaults.LATE_FEE_PER_PRIOR_YEAR,
        },
    )


@never_cache
@require_GET
def healthz(request):
    healthy, report = health_report()
    return JsonResponse(report, status=200 if healthy else 503)
