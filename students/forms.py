"""Account forms. Messages say what to do, in words a 14-year-old reads at a glance."""

import datetime as dt
import re

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError

from articulations.models import School
from articulations.school_year import local_today, start_year_on
from students.models import GRADES, Student, grade_in, graduation_year_for
from students.services import STUDENT_EDITABLE_FIELDS, password_reset_email_queue

# Students in grades 9–12 are 13 to 19 as a rule; leave room for early and late starters.
YOUNGEST_AGE, OLDEST_AGE = 12, 21
ZIP_CODE = re.compile(r"^[0-9]{5}(-[0-9]{4})?$")


def age_on(born: dt.date, day: dt.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class DateOfBirthWidget(forms.MultiWidget):
    """Three small number boxes (month, day, year): quick on a phone, no calendar to scroll."""

    template_name = "widgets/date_of_birth.html"

    def __init__(self, attrs=None):
        number = {"inputmode": "numeric", "pattern": "[0-9]*", "class": "form-control"}
        super().__init__(
            widgets={
                "month": forms.TextInput({**number, "autocomplete": "bday-month", "size": 2}),
                "day": forms.TextInput({**number, "autocomplete": "bday-day", "size": 2}),
                "year": forms.TextInput({**number, "autocomplete": "bday-year", "size": 4}),
            },
            attrs=attrs,
        )

    def decompress(self, value):
        if value:
            return [value.month, value.day, value.year]
        return [None, None, None]


class DateOfBirthField(forms.MultiValueField):
    widget = DateOfBirthWidget

    def __init__(self, **kwargs):
        fields = (forms.CharField(), forms.CharField(), forms.CharField())
        super().__init__(fields=fields, require_all_fields=False, **kwargs)
        self.error_messages["required"] = "Enter your date of birth."
        self.error_messages["incomplete"] = "Enter your date of birth: month, day and year."

    def compress(self, data_list):
        if not data_list or not any(data_list):
            return None
        month, day, year = (part.strip() if part else "" for part in data_list)
        if not (month.isdigit() and day.isdigit() and year.isdigit()):
            raise ValidationError("Enter your date of birth in numbers, like 4 27 2010.")
        if len(year) != 4:
            raise ValidationError("Enter the year you were born with four digits, like 2010.")
        try:
            return dt.date(int(year), int(month), int(day))
        except ValueError:
            raise ValidationError("Enter a real date of birth, like 4 27 2010.") from None


class SchoolChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, school):
        return f"{school.name} ({school.district.name})"


def normalise_phone(typed: str) -> str:
    digits = re.sub(r"[^0-9]", "", typed)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10:
        raise ValidationError("Enter a phone number with area code, like 425-555-0100.")
    return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"


class StudentDetailsForm(forms.ModelForm):
    """What a student tells us about themselves; sign-up and profile edit share it."""

    grade = forms.TypedChoiceField(
        label="Grade this school year",
        choices=[("", "Choose your grade"), *[(grade, f"Grade {grade}") for grade in GRADES]],
        coerce=int,
        empty_value=None,
        required=False,
    )
    expected_graduation_year = forms.IntegerField(
        label="Or the year you expect to graduate",
        required=False,
        widget=forms.TextInput({"inputmode": "numeric", "pattern": "[0-9]*", "size": 4}),
    )
    school = SchoolChoiceField(
        queryset=School.objects.select_related("district").order_by("name"),
        label="High school or skill center",
        help_text="Type to find your school in the list.",
        empty_label="Choose your school",
        widget=forms.Select({"data-filterable": "true"}),
        error_messages={"required": "Choose your high school or skill center."},
    )
    free_reduced_lunch = forms.TypedChoiceField(
        label="Do you get free or reduced-price lunch?",
        help_text="If you do, you can get the fee waived.",
        choices=[(True, "Yes"), (False, "No")],
        coerce=lambda value: value in (True, "True"),
        widget=forms.RadioSelect,
        error_messages={"required": "Say whether you get free or reduced-price lunch."},
    )

    class Meta:
        model = Student
        fields = STUDENT_EDITABLE_FIELDS
        labels = {"email": "Email address", "phone": "Phone number"}
        help_texts = {
            "email": "We send your SERS ID and receipts here. You may share it with a brother, sister or parent.",
            "guardian_name": "Optional.",
            "guardian_email": "Optional.",
        }
        widgets = {
            "email": forms.EmailInput({"autocomplete": "email"}),
            "phone": forms.TextInput({"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
            "street": forms.TextInput({"autocomplete": "address-line1"}),
            "city": forms.TextInput({"autocomplete": "address-level2"}),
            "state": forms.TextInput({"autocomplete": "address-level1", "size": 2}),
            "zip_code": forms.TextInput(
                {"autocomplete": "postal-code", "inputmode": "numeric", "size": 10}
            ),
            "guardian_email": forms.EmailInput({"autocomplete": "off"}),
        }
        error_messages = {
            "email": {
                "required": "Enter your email address.",
                "invalid": "Enter an email address like name@example.com.",
            },
            "phone": {"required": "Enter your phone number."},
            "street": {"required": "Enter your street address."},
            "city": {"required": "Enter your city."},
            "state": {"required": "Enter your state, like WA."},
            "zip_code": {"required": "Enter your ZIP code."},
            "guardian_email": {"invalid": "Enter an email address like name@example.com."},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.school_year_start = start_year_on(local_today())
        if self.instance.pk:
            self.fields["grade"].initial = self.instance.grade_in_school_year(
                self.school_year_start
            )
            self.fields["expected_graduation_year"].initial = self.instance.expected_graduation_year

    def clean_phone(self):
        return normalise_phone(self.cleaned_data["phone"])

    def clean_state(self):
        state = self.cleaned_data["state"].strip().upper()
        if not re.fullmatch(r"[A-Z]{2}", state):
            raise ValidationError("Enter your state as two letters, like WA.")
        return state

    def clean_zip_code(self):
        zip_code = self.cleaned_data["zip_code"].strip()
        if not ZIP_CODE.match(zip_code):
            raise ValidationError("Enter a ZIP code like 98007.")
        return zip_code

    def clean(self):
        cleaned = super().clean()
        grade = cleaned.get("grade")
        graduation_year = cleaned.get("expected_graduation_year")
        if grade is None and graduation_year is None:
            self.add_error("grade", "Choose your grade, or enter the year you expect to graduate.")
            return cleaned
        if graduation_year is None:
            graduation_year = graduation_year_for(grade, self.school_year_start)
        elif (
            grade is not None
            and graduation_year_for(grade, self.school_year_start) != graduation_year
        ):
            self.add_error(
                "expected_graduation_year",
                f"Grade {grade} this year means you graduate in "
                f"{graduation_year_for(grade, self.school_year_start)}. Fix your grade or the year.",
            )
            return cleaned
        # A student who has graduated may still fix an email or address: the grade is checked
        # at sign-up, and on a profile edit only when the graduation year changes.
        graduation_year_changed = (
            self.instance.pk is None or graduation_year != self.instance.expected_graduation_year
        )
        if (
            graduation_year_changed
            and grade_in(graduation_year, self.school_year_start) not in GRADES
        ):
            self.add_error(
                "expected_graduation_year",
                "SERS is for students in grades 9 to 12. Check the year you expect to graduate.",
            )
        cleaned["expected_graduation_year"] = graduation_year
        return cleaned


class SignupForm(StudentDetailsForm):
    username = forms.CharField(
        label="Username",
        max_length=150,
        help_text="Letters, numbers and @ . + - _ only. You can also log in with your SERS ID.",
        validators=[UnicodeUsernameValidator()],
        widget=forms.TextInput({"autocomplete": "username", "autocapitalize": "none"}),
        error_messages={"required": "Choose a username."},
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput({"autocomplete": "new-password"}),
        help_text="At least 8 characters. Not just numbers, and not a common password.",
        error_messages={"required": "Choose a password."},
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput({"autocomplete": "new-password"}),
        error_messages={"required": "Enter your password again."},
    )
    legal_first_name = forms.CharField(
        label="Legal first name",
        max_length=100,
        help_text="As on your school records.",
        widget=forms.TextInput({"autocomplete": "given-name"}),
        error_messages={"required": "Enter your legal first name."},
    )
    legal_middle_name = forms.CharField(
        label="Legal middle name",
        max_length=100,
        required=False,
        help_text="Optional.",
        widget=forms.TextInput({"autocomplete": "additional-name"}),
    )
    legal_last_name = forms.CharField(
        label="Legal last name",
        max_length=100,
        widget=forms.TextInput({"autocomplete": "family-name"}),
        error_messages={"required": "Enter your legal last name."},
    )
    date_of_birth = DateOfBirthField(label="Date of birth", help_text="For example, 4 27 2010.")

    field_order = [
        "legal_first_name",
        "legal_middle_name",
        "legal_last_name",
        "date_of_birth",
        "grade",
        "expected_graduation_year",
        "school",
        "email",
        "phone",
        "street",
        "city",
        "state",
        "zip_code",
        "free_reduced_lunch",
        "guardian_name",
        "guardian_email",
        "username",
        "password1",
        "password2",
    ]

    def clean_date_of_birth(self):
        born = self.cleaned_data["date_of_birth"]
        age = age_on(born, local_today())
        if not YOUNGEST_AGE <= age <= OLDEST_AGE:
            raise ValidationError(
                f"Check your date of birth: it makes you {age} years old, "
                "and SERS is for students in grades 9 to 12."
            )
        return born

    def clean(self):
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", "The two passwords are different. Type the same one twice.")
        elif password1:
            probe = Student(
                legal_first_name=cleaned.get("legal_first_name", ""),
                legal_last_name=cleaned.get("legal_last_name", ""),
                email=cleaned.get("email", ""),
            )
            try:
                password_validation.validate_password(password1, probe)
            except ValidationError as error:
                self.add_error("password1", error)
        return cleaned

    def account_fields(self) -> dict:
        """The cleaned data as keyword arguments for ``student_create``."""
        data = self.cleaned_data
        fields = {name: data[name] for name in self.Meta.fields}
        fields.update(
            username=data["username"],
            password=data["password1"],
            legal_first_name=data["legal_first_name"].strip(),
            legal_middle_name=data["legal_middle_name"].strip(),
            legal_last_name=data["legal_last_name"].strip(),
            date_of_birth=data["date_of_birth"],
            expected_graduation_year=data["expected_graduation_year"],
        )
        return fields


class ProfileForm(StudentDetailsForm):
    def profile_changes(self) -> dict:
        data = self.cleaned_data
        changes = {name: data[name] for name in self.Meta.fields}
        changes["expected_graduation_year"] = data["expected_graduation_year"]
        return changes


class LoginForm(AuthenticationForm):
    """Username or SERS ID: emails are shared between siblings, so never the email."""

    username = forms.CharField(
        label="Username or SERS ID",
        max_length=150,
        widget=forms.TextInput(
            {"autocomplete": "username", "autocapitalize": "none", "autofocus": True}
        ),
    )
    error_messages = {
        "invalid_login": "Your username or SERS ID and password do not match. Check them and try again.",
        "inactive": "This account is switched off. Contact the consortium office.",
    }


class ForgotLoginForm(forms.Form):
    email = forms.EmailField(
        label="Email address",
        help_text="The address you gave when you created your account.",
        widget=forms.EmailInput({"autocomplete": "email"}),
        error_messages={
            "required": "Enter your email address.",
            "invalid": "Enter an email address like name@example.com.",
        },
    )


class OutboxPasswordResetForm(PasswordResetForm):
    """Django's reset form, but its email goes through the outbox like every other."""

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        password_reset_email_queue(user=context["user"])
