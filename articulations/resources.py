"""CSV import and export of the catalog: articulations and classes, in the words staff use.

A file names things the way staff do, not by database id: a college by its
code, a school year as ``2025-26``, a school by its name, a teacher by username.
An import is all or nothing: when any row is wrong nothing is saved, and the
dry run lists every row's problems by row number, so staff fix the file and
load it again rather than hunt for the half that went in.
"""

import re
from decimal import Decimal, InvalidOperation
from functools import reduce
from operator import or_

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import F, Q
from import_export import resources, widgets
from import_export.fields import Field

from articulations.models import (
    Articulation,
    CareerCluster,
    Class,
    College,
    Consortium,
    School,
    SchoolDistrict,
    SchoolYear,
    Teacher,
)
from articulations.school_year import school_year_label
from articulations.services import class_offer_problems

LIST_SEPARATOR = "|"
SCHOOL_YEAR_LABEL = re.compile(r"^(\d{4})-(\d{2})$")
# A spreadsheet runs a cell that starts like this as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def validity_problem(valid_from: int | None, valid_to: int | None) -> str | None:
    """The words for the database's "valid_to >= valid_from" rule, which only names the constraint.

    Takes start years (a SchoolYear's key), so a row whose years did not parse is no problem here.
    """
    if valid_from and valid_to and valid_to < valid_from:
        return (
            f"The last school year, {school_year_label(valid_to)}, "
            f"is before the first, {school_year_label(valid_from)}."
        )
    return None


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _split(value) -> list[str]:
    return [part.strip() for part in _text(value).split(LIST_SEPARATOR) if part.strip()]


# How a looked-up catalog row belongs to a consortium: an import by consortium staff names
# only their consortia's rows; another's reads as "there is no …", like a missing one.
SCOPE_LOOKUPS = {
    "consortium": "pk",
    "schooldistrict": "consortium",
    "school": "consortium",
    "articulation": "consortium",
    "teacher": "schools__consortium",
}


def _in_scope(queryset, consortium_ids):
    lookup = SCOPE_LOOKUPS.get(queryset.model._meta.model_name)
    if consortium_ids is None or lookup is None:
        return queryset
    inner = queryset.model._default_manager.filter(**{f"{lookup}__in": consortium_ids})
    return queryset.filter(pk__in=inner.values("pk"))


def _find(queryset, field: str, keys: list[str]) -> dict[str, list]:
    """The rows of ``queryset`` whose ``field`` is one of ``keys`` (any case), by casefolded key."""
    found: dict[str, list] = {}
    if keys:
        matches_a_key = reduce(or_, (Q(**{f"{field}__iexact": key}) for key in keys))
        for obj in queryset.annotate(lookup_key=F(field)).filter(matches_a_key):
            found.setdefault(str(obj.lookup_key).casefold(), []).append(obj)
    return found


def _one(found: dict[str, list], key: str, described_as: str, ambiguous_hint: str = ""):
    matches = found.get(key.casefold(), [])
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ValueError(f"There is no {described_as} “{key}”.")
    raise ValueError(f"More than one {described_as} “{key}”{ambiguous_hint}.")


class NamedWidget(widgets.ForeignKeyWidget):
    """One related row named by a human key: a college by code, a district by name."""

    ambiguous_hint = ""

    def __init__(self, model, field: str, described_as: str):
        super().__init__(model, field=field)
        self.described_as = described_as

    def clean(self, value, row=None, **kwargs):
        key = _text(value)
        if not key:
            return None
        queryset = _in_scope(self.get_queryset(key, row), kwargs.get("consortium_ids"))
        found = _find(queryset, self.field, [key])
        return _one(found, key, self.described_as, self.ambiguous_hint)


class SchoolWidget(NamedWidget):
    """A school by name; two districts may each have a "Lincoln High School"."""

    ambiguous_hint = "; add its district in the district column"

    def __init__(self):
        super().__init__(School, "name", "school named")

    def get_queryset(self, value, row, *args, **kwargs):
        district = _text((row or {}).get("district"))
        schools = School.objects.all()
        return schools.filter(district__name__iexact=district) if district else schools


class SchoolListWidget(widgets.ManyToManyWidget):
    """School names separated by "|", each looked up among the row's consortium's schools."""

    def __init__(self):
        super().__init__(School, separator=LIST_SEPARATOR, field="name")

    def clean(self, value, row=None, **kwargs):
        names = _split(value)
        consortium = _text((row or {}).get("consortium"))
        schools = School.objects.all()
        described_as = "school named"
        if consortium:
            schools = schools.filter(consortium__name__iexact=consortium)
            described_as = f"school of {consortium} named"
        found = _find(_in_scope(schools, kwargs.get("consortium_ids")), "name", names)
        picked, problems = [], []
        for name in names:
            try:
                picked.append(_one(found, name, described_as))
            except ValueError as error:
                problems.append(str(error))
        if problems:
            raise ValueError(" ".join(problems))
        return picked


class IdListWidget(widgets.ManyToManyWidget):
    """Row ids separated by "|": every one must exist."""

    def __init__(self, model):
        super().__init__(model, separator=LIST_SEPARATOR, field="pk")

    def clean(self, value, row=None, **kwargs):
        keys = _split(value)
        not_numbers = [key for key in keys if not key.isdigit()]
        if not_numbers:
            raise ValueError(f"Ids are numbers separated by “|”, not “{'”, “'.join(not_numbers)}”.")
        ids = [int(key) for key in keys]
        rows = _in_scope(self.model.objects.all(), kwargs.get("consortium_ids"))
        found = rows.in_bulk(ids)
        missing = [str(pk) for pk in ids if pk not in found]
        if missing:
            name = self.model._meta.verbose_name
            raise ValueError(f"There is no {name} with id {', '.join(missing)}.")
        return [found[pk] for pk in ids]


class SchoolYearWidget(widgets.Widget):
    """A school year written ``2025-26``; a year not in the catalog yet is added."""

    def clean(self, value, row=None, **kwargs):
        label = _text(value)
        if not label:
            return None
        match = SCHOOL_YEAR_LABEL.match(label)
        if not match or school_year_label(int(match[1])) != label:
            raise ValueError(f"“{label}” is not a school year; write it like 2025-26.")
        start_year = int(match[1])
        try:
            SchoolYear._meta.get_field("start_year").run_validators(start_year)
        except ValidationError as error:
            raise ValueError(f"{label}: {' '.join(error.messages)}") from None
        school_year, _ = SchoolYear.objects.get_or_create(start_year=start_year)
        return school_year

    def render(self, value, obj=None, **kwargs):
        return value.label if value else ""


def _number(value) -> Decimal | None:
    text = _text(value)
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"“{text}” is not a number.") from None


class DecimalWidget(widgets.DecimalWidget):
    # The library lets decimal.InvalidOperation escape, which reports as a crash, not a row error.
    def clean(self, value, row=None, **kwargs):
        return _number(value)


class WholeNumberWidget(widgets.IntegerWidget):
    # The library would quietly cut 1.5 terms down to 1.
    def clean(self, value, row=None, **kwargs):
        number = _number(value)
        if number is None:
            return None
        if not number.is_finite() or number != number.to_integral_value():
            raise ValueError(f"“{_text(value)}” is not a whole number.")
        return int(number)


class ChoiceWidget(widgets.CharWidget):
    """A choice by its stored value or its label, in any case: "active", "Active"."""

    def __init__(self, choices):
        super().__init__()
        self.values = {
            str(word).casefold(): value for value, label in choices for word in (value, label)
        }

    def clean(self, value, row=None, **kwargs):
        text = _text(value)
        # An unknown word goes through unchanged: the model's choices check names it.
        return self.values.get(text.casefold(), text) or None


class CourseCodeWidget(widgets.CharWidget):
    # The model upper-cases "bus" to "BUS" in clean(), but an existing articulation
    # is looked up by these columns before that, so do it here too.
    def clean(self, value, row=None, **kwargs):
        return _text(value).upper()


class CatalogResource(resources.ModelResource):
    """All or nothing, with the model's own validation and the catalog's rules per row."""

    class Meta:
        use_transactions = True
        clean_model_instances = True
        # Row-by-row saves, so that many-to-many columns and the class rules apply.
        use_bulk = False

    def __init__(self, consortium_ids: list[int] | None = None, **kwargs):
        # Set by the admin for consortium staff: the rows a file may name are their consortia's.
        super().__init__(**kwargs)
        self.consortium_ids = consortium_ids

    def import_data(
        self,
        dataset,
        dry_run=False,
        raise_errors=False,
        use_transactions=None,
        collect_failed_rows=False,
        rollback_on_validation_errors=False,
        **kwargs,
    ):
        # By default import-export saves the good rows and skips the invalid ones;
        # here one bad row rolls back the whole file, whoever calls.
        return super().import_data(
            dataset,
            dry_run=dry_run,
            raise_errors=raise_errors,
            use_transactions=True,
            collect_failed_rows=collect_failed_rows,
            rollback_on_validation_errors=True,
            **kwargs,
        )

    def get_instance(self, instance_loader, row):
        try:
            return super().get_instance(instance_loader, row)
        except ValueError:
            # A key that names nothing (an unknown college code) matches no existing
            # row; import_instance() then reports which column is wrong.
            return None

    def before_import_row(self, row, **kwargs):
        # Undo the quote export puts before formula-like text (see export_field).
        for column, value in row.items():
            if (
                isinstance(value, str)
                and value.startswith("'")
                and value[1:].startswith(FORMULA_STARTS)
            ):
                row[column] = value[1:]

    def export_field(self, field, instance, **kwargs):
        value = super().export_field(field, instance, **kwargs)
        if isinstance(value, str) and value.startswith(FORMULA_STARTS):
            return "'" + value
        return value

    def import_instance(self, instance, row, **kwargs):
        kwargs["consortium_ids"] = self.consortium_ids
        errors = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        # import-export sets many-to-many columns only after saving the row; read them
        # now so that a wrong name is reported with the row's other problems.
        related = {}
        for field in self.get_import_fields():
            if isinstance(field.widget, widgets.ManyToManyWidget) and field.column_name in row:
                try:
                    related[field.attribute] = field.clean(row, **kwargs)
                except ValueError as error:
                    errors[field.attribute] = ValidationError(str(error))
        rule_errors = self.rule_errors(instance, related, errors)
        if rule_errors:
            errors = ValidationError(rule_errors).update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    def rule_errors(self, instance, related: dict, errors: dict) -> dict:
        """The catalog's rules for this row, by field (NON_FIELD_ERRORS: the whole row).

        ``related`` holds the many-to-many columns that made sense; ``errors`` what
        is already wrong with the row's columns.
        """
        return {}


class ArticulationResource(CatalogResource):
    consortium = Field(
        "consortium", "consortium", NamedWidget(Consortium, "name", "consortium named")
    )
    district = Field("district", "district", NamedWidget(SchoolDistrict, "name", "district named"))
    schools = Field("schools", "schools", SchoolListWidget())
    hs_credits = Field("hs_credits", "hs_credits", DecimalWidget())
    college = Field("college", "college", NamedWidget(College, "code", "college with code"))
    college_course_prefix = Field(
        "college_course_prefix", "college_course_prefix", CourseCodeWidget()
    )
    college_course_number = Field(
        "college_course_number", "college_course_number", CourseCodeWidget()
    )
    college_credits = Field("college_credits", "college_credits", DecimalWidget())
    minimum_grade = Field(
        "minimum_grade",
        "minimum_grade",
        ChoiceWidget(Articulation._meta.get_field("minimum_grade").choices),
        default=Articulation._meta.get_field("minimum_grade").default,
    )
    career_cluster = Field(
        "career_cluster",
        "career_cluster",
        NamedWidget(CareerCluster, "name", "career cluster named"),
    )
    terms = Field("terms", "terms", WholeNumberWidget(), default=1)
    valid_from = Field("valid_from", "valid_from", SchoolYearWidget())
    valid_to = Field("valid_to", "valid_to", SchoolYearWidget())
    status = Field(
        "status",
        "status",
        ChoiceWidget(Articulation.Status.choices),
        default=Articulation.Status.PENDING,
    )

    class Meta:
        model = Articulation
        fields = (
            "consortium",
            "hs_course_name",
            "hs_course_number",
            "district",
            "schools",
            "hs_credits",
            "college",
            "college_course_prefix",
            "college_course_number",
            "college_course_title",
            "college_credits",
            "minimum_grade",
            "career_cluster",
            "terms",
            "valid_from",
            "valid_to",
            "status",
        )
        import_order = export_order = fields
        # The database's own key for an articulation: loading an exported file again
        # updates those articulations instead of adding copies.
        import_id_fields = next(
            constraint.fields
            for constraint in Articulation._meta.constraints
            if constraint.name == "articulation_unique"
        )

    def filter_export(self, queryset, **kwargs):
        # Whoever exports (the admin hands over its changelist's rows), the columns
        # read these relations: fetch them with the rows, not once per row.
        return queryset.select_related(
            "consortium", "district", "college", "career_cluster", "valid_from", "valid_to"
        ).prefetch_related("schools")

    def rule_errors(self, instance, related, errors):
        problem = validity_problem(instance.valid_from_id, instance.valid_to_id)
        # Keyed by field, so the model's own wording of the same constraint is left out.
        return {"valid_to": [problem]} if problem else {}


class ClassResource(CatalogResource):
    school = Field("school", "school", SchoolWidget())
    # Read only: it tells apart schools of the same name; a class's district is its school's.
    district = Field("school__district__name", "district", readonly=True)
    teacher = Field(
        "teacher", "teacher", NamedWidget(Teacher, "user__username", "teacher with username")
    )
    school_year = Field("school_year", "school_year", SchoolYearWidget())
    articulations = Field("articulations", "articulations", IdListWidget(Articulation))
    term = Field("term", "term", widgets.CharWidget(allow_blank=True))
    period = Field("period", "period", widgets.CharWidget(allow_blank=True))

    class Meta:
        model = Class
        fields = ("school", "district", "teacher", "school_year", "articulations", "term", "period")
        import_order = export_order = fields
        # A class has no key staff would write (a teacher may teach two courses in
        # the same period-less term), so every row is a new class.
        force_init_instance = True

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related(
            "school__district", "teacher__user", "school_year"
        ).prefetch_related("articulations")

    def rule_errors(self, instance, related, errors):
        if errors:
            return {}  # the class rules need every column to make sense first
        articulations = related.get("articulations", [])
        problems = class_offer_problems(
            school=instance.school,
            school_year=instance.school_year,
            teacher=instance.teacher,
            articulations=articulations,
        )
        if self._already_in_sers(instance, articulations):
            # Every row is a new class, so a file uploaded twice would list each class twice.
            problems.append(
                "This class is already in SERS: same teacher, school, year, term, period "
                "and articulations. Remove the row, or give the class its period."
            )
        return {NON_FIELD_ERRORS: problems} if problems else {}

    @staticmethod
    def _already_in_sers(instance, articulations) -> bool:
        wanted = {articulation.pk for articulation in articulations}
        same_place = Class.objects.filter(
            teacher=instance.teacher,
            school=instance.school,
            school_year=instance.school_year,
            term=instance.term,
            period=instance.period,
        ).prefetch_related("articulations")
        return any(
            {articulation.pk for articulation in existing.articulations.all()} == wanted
            for existing in same_place
        )
