"""Admin building blocks every app's admin shares: typed dates, counted words, look-only history,
status changes through services with a confirmation page."""

import datetime as dt

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.utils import NotRelationField, get_fields_from_path, unquote
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse

# Dates of birth as staff type them from a letter or an email.
DATE_FORMATS = ["%m/%d/%Y", "%Y-%m-%d", "%m-%d-%Y", "%m/%d/%y"]

# How many of the selected rows a confirmation page names; the rest are counted.
CONFIRMATION_ROWS_SHOWN = 50


def parse_typed_date(text: str) -> dt.date | None:
    for date_format in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text.strip(), date_format).date()  # noqa: DTZ007 - a date, no time
        except ValueError:
            continue
    return None


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (plural_form or singular + 's')}"


class HistoryLookOnlyMixin:
    """Old versions on the history page can be looked at, not restored.

    Reverting would write old values back without the service that guards them.
    """

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


class StatusThroughServicesMixin(HistoryLookOnlyMixin):
    """No hard delete, and no reverting to an old version from the history page."""

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request, action_location=admin.ActionLocation.CHANGE_LIST):
        actions = super().get_actions(request, action_location=action_location)
        actions.pop("delete_selected", None)
        return actions

    def confirm_action(
        self,
        request,
        queryset,
        *,
        action: str,
        title: str,
        intro: str,
        button: str,
        form: forms.Form | None = None,
        note: str = "",
    ) -> TemplateResponse:
        """The page a bulk action shows before it changes anything: the rows, a form, one button."""
        count = queryset.count()
        rows = [self.describe(obj) for obj in queryset[:CONFIRMATION_ROWS_SHOWN]]
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "subtitle": None,
            "opts": self.opts,
            "intro": intro,
            "note": note,
            "count": count,
            "rows": rows,
            "more": count - len(rows),
            "form": form,
            "button": button,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "media": self.media + (form.media if form else forms.Media()),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/action_confirmation.html", context)

    def describe(self, obj) -> str:
        return str(obj)


def confirmed(request) -> bool:
    """Whether this POST is the answer from a confirmation page, not the first click."""
    return request.POST.get("confirmed") == "yes"


# --- Consortium scoping ------------------------------------------------------------------------

# The Django group whose members see and change every consortium's rows, like superusers.
STATE_OFFICE_GROUP = "State office"


def is_state_office(user) -> bool:
    """Superusers and members of the "State office" group see every consortium's rows."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_sers_state_office", None)
    if cached is None:
        cached = user.groups.filter(name=STATE_OFFICE_GROUP).exists()
        user._sers_state_office = cached
    return cached


def staff_consortium_ids(user) -> list[int]:
    """The ids of the consortia a staff user belongs to (``Consortium.staff``), once a request."""
    if not getattr(user, "is_authenticated", False):
        return []
    cached = getattr(user, "_sers_consortium_ids", None)
    if cached is None:
        # The reverse accessor of ``articulations.Consortium.staff``: this layer imports no app.
        cached = list(user.staff_consortia.values_list("pk", flat=True))
        user._sers_consortium_ids = cached
    return cached


class ConsortiumScopedAdmin:
    """An admin (or inline) whose rows belong to consortia: staff see only their consortia's.

    ``consortium_lookup`` is the path from the model to its consortium, e.g.
    ``"school__consortium"``. Set ``consortium_lookup_spans_many`` when the path crosses a
    many-valued relation (a teacher's schools): rows are then matched by a subquery, never
    repeated. An admin with its own rule overrides ``consortium_scope``.

    Scoped for staff of some consortia (the state office sees everything):
    ``get_queryset`` (so lists, searches, filters' counts, change, history and delete pages by
    id, actions, "select all", exports and the autocompletes that look here); the choices of
    every foreign key and many-to-many to a scoped model; the choices of related list filters;
    and a save that would move a row out of the user's consortia is refused.
    """

    consortium_lookup: str = ""
    consortium_lookup_spans_many = False

    def consortium_scope(self, queryset, consortium_ids):
        """The rows of ``queryset`` that belong to one of ``consortium_ids``."""
        condition = {f"{self.consortium_lookup}__in": consortium_ids}
        if self.consortium_lookup_spans_many:
            inner = queryset.model._default_manager.filter(**condition).values("pk")
            return queryset.filter(pk__in=inner)
        return queryset.filter(**condition)

    def scope_for(self, request, queryset):
        if is_state_office(request.user):
            return queryset
        return self.consortium_scope(queryset, staff_consortium_ids(request.user))

    def get_queryset(self, request):
        return self.scope_for(request, super().get_queryset(request))

    def history_view(self, request, object_id, extra_context=None):
        self._not_found_unless_visible(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # django-simple-history's pages read the historical rows directly: they would show an
        # old version of another consortium's row, or of a deleted one.
        self._not_found_unless_visible(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)

    def _not_found_unless_visible(self, request, object_id):
        if is_state_office(request.user):
            return
        if self.get_object(request, unquote(object_id)) is None:
            raise Http404

    def _scoped_choices(self, request, db_field, kwargs):
        if is_state_office(request.user) or "queryset" in kwargs:
            return
        related_admin = self.admin_site._registry.get(db_field.remote_field.model)
        if isinstance(related_admin, ConsortiumScopedAdmin):
            queryset = self.get_field_queryset(None, db_field, request)
            if queryset is None:
                queryset = db_field.remote_field.model._default_manager.all()
            kwargs["queryset"] = related_admin.scope_for(request, queryset)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        self._scoped_choices(request, db_field, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        self._scoped_choices(request, db_field, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_list_filter(self, request):
        """Related filters offer only the related rows of the user's own rows, never others'."""
        list_filter = super().get_list_filter(request)
        if is_state_office(request.user):
            return list_filter
        scoped = []
        for item in list_filter:
            if isinstance(item, str) and _is_relation_path(self.model, item):
                item = (item, admin.RelatedOnlyFieldListFilter)
            scoped.append(item)
        return scoped

    def save_related(self, request, form, formsets, change):
        # A many-to-many offers only the user's consortia's rows: keep the others it holds
        # (a teacher who also teaches at another consortium's school keeps that school).
        hidden = {}
        if change and not is_state_office(request.user):
            many = {field.name for field in form.instance._meta.many_to_many}
            for name, field in form.fields.items():
                if name in many and isinstance(field, forms.ModelMultipleChoiceField):
                    related = getattr(form.instance, name)
                    hidden[name] = list(related.exclude(pk__in=field.queryset.values("pk")))
        super().save_related(request, form, formsets, change)
        for name, rows in hidden.items():
            if rows:
                getattr(form.instance, name).add(*rows)
        self.refuse_outside_scope(request, form.instance)

    def refuse_outside_scope(self, request, obj):
        """Checked after the row and its many-to-many are saved, inside the admin's transaction:
        the refusal rolls the save back."""
        if is_state_office(request.user) or obj.pk is None:
            return
        rows = obj.__class__._default_manager.filter(pk=obj.pk)
        if not self.scope_for(request, rows).exists():
            raise PermissionDenied("This row would leave your consortia.")


class StatewideListAdmin:
    """A statewide list every consortium shares (colleges, school years, career clusters):
    consortium staff see it and pick from it; only the state office changes it."""

    def has_add_permission(self, request, *args):
        return is_state_office(request.user) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return is_state_office(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return is_state_office(request.user) and super().has_delete_permission(request, obj)


def scoped_rows(admin_site, request, queryset):
    """The rows of ``queryset`` the user may see, by the rule of its model's admin.

    For custom admin pages (record a check, import grades, exports) that look rows up by
    a typed SERS ID or a file's ids: another consortium's row is "not found", like a missing one.
    """
    model_admin = admin_site._registry.get(queryset.model)
    if isinstance(model_admin, ConsortiumScopedAdmin):
        return model_admin.scope_for(request, queryset)
    return queryset


def _is_relation_path(model, path: str) -> bool:
    try:
        return get_fields_from_path(model, path)[-1].is_relation
    except (FieldDoesNotExist, NotRelationField):  # not a field path: left as it is
        return False


class ReadOnlyAdminMixin:
    """A record SERS keeps: staff look, never add, change or delete here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
