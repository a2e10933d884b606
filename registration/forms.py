"""Forms for registering a class and asking for prior-year credit."""

from django import forms

from articulations.models import Articulation, Class, School
from registration.selectors import offered_articulations_of
from students.forms import SchoolChoiceField

# --- Registrations ------------------------------------------------------------------------


class SchoolPickForm(forms.Form):
    """Step one of registering: whose classes to list (default: the student's own school)."""

    school = SchoolChoiceField(
        queryset=School.objects.select_related("district").order_by("name"),
        label="School where you take the class",
        empty_label=None,
        widget=forms.Select({"data-filterable": "true", "class": "form-select"}),
    )


class RegisterClassForm(forms.Form):
    """The class, and the college when the class offers more than one."""

    course_class = forms.ModelChoiceField(
        queryset=Class.objects.none(),
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose the class you are taking.",
            "invalid_choice": "Choose one of the classes on this page.",
        },
    )
    articulation = forms.ModelChoiceField(
        queryset=Articulation.objects.none(),
        required=False,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": "Choose one of the colleges on this page."},
    )

    def __init__(self, *args, classes: list[Class], **kwargs):
        super().__init__(*args, **kwargs)
        class_ids = [course_class.pk for course_class in classes]
        self.fields["course_class"].queryset = Class.objects.filter(
            pk__in=class_ids
        ).select_related("school_year", "school__consortium", "teacher__user")
        self.fields["articulation"].queryset = offered_articulations_of(classes)


class PriorYearRequestForm(RegisterClassForm):
    note = forms.CharField(
        label="Why did you not register that year?",
        help_text="A sentence or two is enough.",
        max_length=1000,
        widget=forms.Textarea({"rows": 3}),
        error_messages={
            "required": "Tell us in a sentence or two why you did not register that year."
        },
    )
