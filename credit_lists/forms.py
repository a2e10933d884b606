"""The registrar's credit-list filters."""

from django import forms

from articulations.school_year import school_year_label
from credit_lists.exporters import CreditFilters


class CreditFilterForm(forms.Form):
    """A registrar's filters: from the page's query string, or a download form's hidden fields.

    The college is not among them: it is always the registrar's own. The fields take any
    value of the right type, so a school or course of another college simply matches
    nothing; the lists offer the values present in the college's credit.
    """

    year = forms.IntegerField(
        label="School year",
        required=False,
        min_value=2000,
        max_value=2200,
        error_messages=dict.fromkeys(
            ["invalid", "min_value", "max_value"], "Choose a school year from the list"
        ),
        widget=forms.Select,
    )
    term = forms.CharField(
        label="Term",
        required=False,
        max_length=30,
        widget=forms.Select,
    )
    school = forms.IntegerField(
        label="High school",
        required=False,
        min_value=1,
        max_value=2**63 - 1,
        error_messages=dict.fromkeys(
            ["invalid", "min_value", "max_value"], "Choose a high school from the list"
        ),
        widget=forms.Select,
    )
    course = forms.CharField(
        label="College course",
        required=False,
        max_length=25,
        widget=forms.Select,
    )
    new_only = forms.BooleanField(
        label="Only credits not yet exported",
        required=False,
    )

    def __init__(self, data=None, *, choices=None):
        super().__init__(data)
        if choices is not None:
            self.fields["year"].widget.choices = [
                ("", "All school years"),
                *((year, school_year_label(year)) for year in choices.years),
            ]
            self.fields["term"].widget.choices = [
                ("", "All terms"),
                *((term, term) for term in choices.terms),
            ]
            self.fields["school"].widget.choices = [("", "All high schools"), *choices.schools]
            self.fields["course"].widget.choices = [
                ("", "All college courses"),
                *((course, course) for course in choices.courses),
            ]

    def credit_filters(self, college_id: int) -> CreditFilters:
        """The filters for the registrar's college; call after ``is_valid``."""
        data = self.cleaned_data if self.is_bound else {}
        return CreditFilters(
            college_id=college_id,
            school_year=data.get("year"),
            term=data.get("term", ""),
            school_id=data.get("school"),
            course=data.get("course", ""),
            new_only=bool(data.get("new_only")),
        )

    def download_fields(self) -> list[tuple[str, str]]:
        """The filters in force, as hidden fields of the download forms."""
        if not self.is_bound or not self.is_valid():
            return []
        fields = []
        for name, value in self.cleaned_data.items():
            if value is True:
                fields.append((name, "on"))
            elif value not in (None, "", False):
                fields.append((name, str(value)))
        return fields
