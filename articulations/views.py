"""The public catalog: search articulations and read one, no login needed."""

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from articulations.forms import ArticulationSearchForm
from articulations.selectors import (
    articulation_offerings,
    articulation_search,
    current_school_year,
    public_articulations,
)

RESULTS_PER_PAGE = 20


@require_GET
def search(request):
    form = ArticulationSearchForm(request.GET, current_year=current_school_year())
    page = page_numbers = None
    # With a bad filter the page shows the error summary, not results that
    # silently ignore what the person asked for.
    if form.is_valid():
        articulations = articulation_search(**form.search_filters())
        # get_page turns a missing or garbage page number into a real page.
        page = Paginator(articulations, RESULTS_PER_PAGE).get_page(request.GET.get("page"))
        # Few page links, so that they take little room on a phone.
        page_numbers = page.paginator.get_elided_page_range(page.number, on_each_side=1, on_ends=1)
    return render(
        request,
        "articulations/search.html",
        {"form": form, "page": page, "page_numbers": page_numbers},
    )


@require_GET
def detail(request, pk: int):
    # Pending articulations are not public: they 404 like any unknown id.
    articulation = get_object_or_404(public_articulations(), pk=pk)
    school_year = current_school_year()
    return render(
        request,
        "articulations/detail.html",
        {
            "articulation": articulation,
            "school_year": school_year,
            "offerings": articulation_offerings(articulation, school_year),
        },
    )
