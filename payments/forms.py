from django import forms

from payments.models import Waiver
from sers.sers_id import InvalidSersId, parse_sers_id


class YearChoiceForm(forms.Form):
    """Which account a button acts on: the consortium and the school year."""

    consortium = forms.IntegerField(widget=forms.HiddenInput)
    year = forms.IntegerField(widget=forms.HiddenInput)
    # Pay although a fee waiver is waiting for a decision (the family insists).
    pay_anyway = forms.BooleanField(required=False, widget=forms.HiddenInput)


class WaiverRequestForm(forms.Form):
    reason = forms.ChoiceField(
        label="Why should the fee be waived?",
        choices=Waiver.Reason.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose why the fee should be waived."},
    )
    note = forms.CharField(
        label="For financial hardship: tell us a little about your situation",
        help_text="A sentence or two is enough. Staff read it and decide.",
        required=False,
        max_length=1000,
        widget=forms.Textarea({"rows": 3}),
    )


class ParentLookupForm(forms.Form):
    sers_id = forms.CharField(
        label="Student's SERS ID",
        help_text="Like TP3-07-4412. It is on every email SERS sends the student.",
        max_length=30,
        widget=forms.TextInput({"autocomplete": "off", "autocapitalize": "characters"}),
        error_messages={"required": "Enter the student's SERS ID."},
    )
    last_name = forms.CharField(
        label="Student's last name",
        max_length=100,
        widget=forms.TextInput({"autocomplete": "off"}),
        error_messages={"required": "Enter the student's last name."},
    )

    def clean_sers_id(self):
        try:
            return parse_sers_id(self.cleaned_data["sers_id"])
        except InvalidSersId as error:
            raise forms.ValidationError(str(error)) from None
