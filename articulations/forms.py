"""Forms of the public catalog."""

from django import forms

from articulations.models import (
    CareerCluster,
    College,
    Consortium,
    School,
    SchoolDistrict,
    SchoolYear,
)

ALL_YEARS = "all"


class SchoolChoiceField(forms.ModelChoiceField):
    # Two districts may each have a "Lincoln High School": name the district too.
    def label_from_instance(self, school: School) -> str:
        return f"{school.name} ({school.district.name})"


def pick_from_list(what: str) -> dict[str, str]:
    # A value not in the list comes from an old or hand-edited link, not from the form.
    return {"invalid_choice": f"Choose {what} from the list."}


class ArticulationSearchForm(forms.Form):
    """The catalog's filters, read from the URL so that a search can be shared."""

    q = forms.CharField(
        label="Course name or number",
        help_text="For example Accounting, BUS 101 or the course number on your schedule.",
        required=False,
        max_length=100,
        error_messages={"max_length": "Enter 100 characters or fewer."},
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    consortium = forms.ModelChoiceField(
        label="Consortium",
        help_text="SERS serves every CTE Dual Credit consortium in Washington.",
        queryset=Consortium.objects.all(),
        required=False,
        empty_label="Any consortium",
        error_messages=pick_from_list("a consortium"),
    )
    district = forms.ModelChoiceField(
        label="School district",
        queryset=SchoolDistrict.objects.all(),
        required=False,
        empty_label="Any school district",
        error_messages=pick_from_list("a school district"),
    )
    school = SchoolChoiceField(
        label="High school or skill center",
        queryset=School.objects.select_related("district"),
        required=False,
        empty_label="Any school",
        error_messages=pick_from_list("a school"),
    )
    college = forms.ModelChoiceField(
        label="College",
        queryset=College.objects.all(),
        required=False,
        empty_label="Any college",
        error_messages=pick_from_list("a college"),
    )
    cluster = forms.ModelChoiceField(
        label="Career cluster",
        queryset=CareerCluster.objects.all(),
        required=False,
        empty_label="Any career cluster",
        error_messages=pick_from_list("a career cluster"),
    )
    year = forms.ChoiceField(
        label="School year",
        required=False,
        error_messages=pick_from_list("a school year"),
    )

    def __init__(self, data, *, current_year: SchoolYear, **kwargs):
        # Most visitors want what they can take now: with no year in the URL
        # (or an empty one) the search is for this school year.
        data = data.copy()
        if not data.get("year"):
            data["year"] = str(current_year.start_year)
        super().__init__(data, **kwargs)
        self.fields["year"].choices = [(ALL_YEARS, "All years")] + [
            (str(school_year.start_year), school_year.label)
            for school_year in SchoolYear.objects.all()
        ]

    def search_filters(self) -> dict:
        """The valid filters as keyword arguments of ``articulation_search``."""
        data = self.cleaned_data
        year = data["year"]
        return {
            "text": data["q"],
            "consortium": data["consortium"],
            "district": data["district"],
            "school": data["school"],
            "college": data["college"],
            "career_cluster": data["cluster"],
            "school_year": None if year == ALL_YEARS else int(year),
        }

    @property
    def year_label(self) -> str | None:
        """The chosen school year as people write it, or None for all years."""
        year = self.cleaned_data.get("year")
        return None if year in (None, ALL_YEARS) else dict(self.fields["year"].choices)[year]
