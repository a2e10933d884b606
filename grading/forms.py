"""The teacher's roster form."""

from django import forms

from articulations.grades import LetterGrade
from grading.services.teaching import RosterEntry
from registration.models import Registration

# --- Teachers and registrars -----------------------------------------------------------------


class RosterForm(forms.Form):
    """Enrollment and final grade for every student of a roster, in one form.

    Fields are named ``enrollment-<registration id>`` and ``grade-<registration id>``.
    A student who registered after the page was loaded has no fields in the post:
    their current values are kept. Fields for a registration no longer on the roster
    are passed on, so ``roster_save`` can say so.
    """

    GRADE_CHOICES = [("", "—"), *LetterGrade.choices]

    def __init__(self, data=None, *, lines):
        self.lines = lines
        if data is not None:
            data = data.copy()
            for line in lines:
                registration = line.registration
                data.setdefault(f"enrollment-{registration.pk}", registration.enrollment)
                data.setdefault(f"grade-{registration.pk}", registration.grade)
        super().__init__(data)
        for line in lines:
            registration, name = line.registration, line.student.full_name
            self.fields[f"enrollment-{registration.pk}"] = forms.ChoiceField(
                label=f"Enrollment for {name}",
                choices=Registration.Enrollment.choices,
                initial=registration.enrollment,
                error_messages={
                    "required": f"Choose whether {name} is enrolled",
                    "invalid_choice": f"Choose Not confirmed yet, Enrolled or Not in the class for {name}",
                },
                widget=forms.Select(attrs={"class": "form-select"}),
            )
            self.fields[f"grade-{registration.pk}"] = forms.ChoiceField(
                label=f"Final grade for {name}",
                choices=self.GRADE_CHOICES,
                required=False,
                initial=registration.grade,
                error_messages={
                    "invalid_choice": f"Choose a grade from the list for {name}, or — for no grade yet",
                },
                widget=forms.Select(attrs={"class": "form-select"}),
            )

    def rows(self):
        """Each roster line with its two bound fields, for the template."""
        rows = []
        for line in self.lines:
            enrollment = self[f"enrollment-{line.registration.pk}"]
            grade = self[f"grade-{line.registration.pk}"]
            for field in (enrollment, grade):
                if field.errors:
                    # The message beside the field is read with it; the red border is not alone.
                    field.field.widget.attrs.update(
                        {
                            "class": "form-select is-invalid",
                            "aria-describedby": f"{field.id_for_label}-error",
                        }
                    )
            rows.append((line, enrollment, grade))
        return rows

    def entries(self) -> list[RosterEntry]:
        entries = [
            RosterEntry(
                registration_id=line.registration.pk,
                enrollment=self.cleaned_data[f"enrollment-{line.registration.pk}"],
                grade=self.cleaned_data[f"grade-{line.registration.pk}"],
            )
            for line in self.lines
        ]
        on_roster = {line.registration.pk for line in self.lines}
        for key in self.data:
            prefix, _, registration_id = key.partition("-")
            if (
                prefix == "enrollment"
                and registration_id.isdigit()
                and int(registration_id) not in on_roster
            ):
                entries.append(
                    RosterEntry(
                        registration_id=int(registration_id),
                        enrollment=self.data[key],
                        grade=self.data.get(f"grade-{registration_id}", ""),
                    )
                )
        return entries
