"""Reads for registrars' credit lists and export batches."""

import re
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from articulations.models import School
from articulations.school_year import school_year_label
from credit_lists.models import ExportBatch, Registrar
from grading.models import Credit

# --- College registrars: their college's credit list and its export batches ---------------


def registrar_for_user(user) -> Registrar:
    """The signed-in user's own registrar record; 404 for anyone who is not a registrar.

    Every registrar page starts here, and the college of every list and file comes
    from this record, never from the request: a registrar only reaches their college.
    """
    if not user.is_authenticated:
        raise Http404
    try:
        # Through the user, so the page header's ``user.registrar`` asks nothing more.
        return user.registrar
    except Registrar.DoesNotExist:
        raise Http404("This page is for college registrars.") from None


@dataclass(frozen=True)
class CreditFilterChoices:
    """The values a registrar can filter by: the ones present in the college's credit."""

    years: list[int]
    terms: list[str]
    schools: list[tuple[int, str]]
    courses: list[str]


def registrar_filter_choices(college_id: int) -> CreditFilterChoices:
    """Four small queries, however many credits: each distinct value once, in order."""
    credits = Credit.objects.filter(college_id=college_id)
    term = "registration__course_class__term"
    return CreditFilterChoices(
        years=list(
            credits.values_list("school_year_id", flat=True).distinct().order_by("-school_year_id")
        ),
        terms=list(
            credits.exclude(**{term: ""}).values_list(term, flat=True).distinct().order_by(term)
        ),
        schools=list(
            School.objects.filter(
                pk__in=credits.order_by().values("registration__course_class__school_id")
            )
            .order_by("name")
            .values_list("pk", "name")
        ),
        courses=list(
            credits.values_list("college_course", flat=True).distinct().order_by("college_course")
        ),
    )


def credit_counts(credits: QuerySet[Credit]) -> dict[str, int]:
    """How many rows match, and how many of them no batch has exported yet: one query."""
    return credits.aggregate(
        total=Count("pk"), not_exported=Count("pk", filter=Q(exported_batch__isnull=True))
    )


def credit_list_rows(credits: QuerySet[Credit]) -> QuerySet[Credit]:
    """The rows of the page's table with what each shows, in the same query."""
    return credits.select_related("student", "school_year", "registration__course_class__school")


@dataclass(frozen=True)
class BatchLine:
    """An export batch with its filters in words and who asked for it."""

    batch: ExportBatch
    filters_words: str

    @property
    def who(self) -> str:
        user = self.batch.requested_by
        if user is None:
            return "Command line" if self.batch.via == "command line" else "Unknown"
        return user.get_full_name() or user.get_username()


def filters_in_words(filters: dict, school_names: dict[int, str]) -> str:
    """A batch's filters as a registrar reads them: "2025-26, Fall, BUS 101, not yet exported"."""
    parts = []
    if filters.get("school_year"):
        parts.append(school_year_label(filters["school_year"]))
    else:
        parts.append("All school years")
    if filters.get("term"):
        parts.append(f"term {filters['term']}")
    if filters.get("school_id"):
        parts.append(school_names.get(filters["school_id"], f"school {filters['school_id']}"))
    if filters.get("course"):
        parts.append(filters["course"])
    if filters.get("credit_ids"):
        count = len(filters["credit_ids"])
        parts.append(f"{count} chosen row{'' if count == 1 else 's'}")
    parts.append("not yet exported only" if filters.get("new_only") else "exported or not")
    return ", ".join(parts)


def batch_lines(batches: list[ExportBatch]) -> list[BatchLine]:
    """Each batch with its filters in words; the schools they name come in one query."""
    school_ids = {batch.filters.get("school_id") for batch in batches} - {None}
    school_names = (
        dict(School.objects.filter(pk__in=school_ids).values_list("pk", "name"))
        if school_ids
        else {}
    )
    return [
        BatchLine(batch=batch, filters_words=filters_in_words(batch.filters, school_names))
        for batch in batches
    ]


REGISTRAR_BATCHES_SHOWN = 20


def registrar_batches(college_id: int, limit: int = REGISTRAR_BATCHES_SHOWN) -> list[BatchLine]:
    """The college's latest export batches, newest first."""
    batches = list(
        ExportBatch.objects.filter(college_id=college_id)
        .select_related("requested_by")
        .order_by("-created_at", "-pk")[:limit]
    )
    return batch_lines(batches)


def registrar_batch(registrar: Registrar, batch_id: int) -> ExportBatch:
    """One of the registrar's college's batches; 404 for any other college's (or staff's)."""
    return get_object_or_404(
        ExportBatch.objects.select_related("requested_by", "college"),
        pk=batch_id,
        college_id=registrar.college_id,
    )


def export_file_name(*, college_code: str, day, file_format: str) -> str:
    """``credits-BC-2026-02-01.csv``: the same name on the page, on re-download and in the admin."""
    code = re.sub(r"[^A-Za-z0-9_-]", "", college_code) or "college"
    return f"credits-{code}-{day.isoformat()}.{file_format}"
