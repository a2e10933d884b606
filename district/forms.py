"""The district pages' forms: find a student, send a login reminder, choose a list's year."""

from django import forms

SEARCH_HINT = "A SERS ID typed any way (tp3 07 4412), a name (Lopez Maya), a username or an email."


class StudentSearchForm(forms.Form):
    q = forms.CharField(
        label="Name, SERS ID, username or email",
        help_text=SEARCH_HINT,
        max_length=200,
        strip=True,
        error_messages={
            "required": "Enter a student's name, SERS ID, username or email.",
            "max_length": "Enter at most 200 characters.",
        },
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "autocomplete": "off",
                "autocapitalize": "none",
                "spellcheck": "false",
            }
        ),
    )


class LoginReminderForm(forms.Form):
    # A fresh id on every page: the service mails once per click, however often it is posted.
    click_id = forms.UUIDField(widget=forms.HiddenInput)


class ListFilterForm(forms.Form):
    """A list's school year and school; unbound, it means this year and all the scope's schools."""

    year = forms.TypedChoiceField(
        label="School year",
        coerce=int,
        required=False,
        empty_value=None,
        error_messages={"invalid_choice": "Choose a school year."},
    )
    school = forms.TypedChoiceField(
        label="School",
        coerce=int,
        required=False,
        empty_value=None,
        error_messages={"invalid_choice": "Choose one of your schools."},
    )

    def __init__(self, data=None, *, years: list[tuple[int, str]], schools):
        super().__init__(data)
        self.fields["year"].choices = years
        self.fields["year"].initial = years[0][0]
        self.fields["school"].choices = [
            ("", "All your schools"),
            *((school.pk, school.name) for school in schools),
        ]

    def choice(self) -> tuple[int, int | None]:
        """The (start year, school id) chosen; this year and every school until a choice."""
        this_year = self.fields["year"].initial
        if self.is_bound and self.is_valid():
            return self.cleaned_data["year"] or this_year, self.cleaned_data["school"]
        return this_year, None
