"""The admin's policy editor: a form generated from the policy's JSON Schema.

One field per setting, named by its camelCase key, the same key the CLI's
``region set-policy`` and the API's ``updateRegionPolicy`` take (a nested
setting by its dotted path, ``registrationTargets.populationShare``), and
choices by the names the API shows (``CITY``). A list of plain values is typed
separated by commas or new lines; a list of objects (the permission-group
table, hub naming rules) is edited as camelCase JSON. What the form collects is
a whole policy in the API's spelling, validated by the same pydantic model as
every other path (``central.policy.validate_policy``); a refusal is shown on the
field it names.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from central.policy import PolicyError, policy_json_schema, validate_policy

_BLANK = [("", "—")]
# A nullable object's fields (by path) and the object's path: all of them empty,
# the setting is null (``nest``).
_NULLABLE_GROUP: dict[str, str] = {}


class _ListField(forms.CharField):
    """A list of plain values: separated by commas or new lines."""

    def __init__(self, item_type: str, **kwargs):
        self.item_type = item_type
        super().__init__(required=False, **kwargs)

    def prepare_value(self, value):
        if isinstance(value, list):
            multiline = isinstance(self.widget, forms.Textarea)
            return ("\n" if multiline else ", ").join(str(item) for item in value)
        return value

    def to_python(self, value) -> list:  # type: ignore[override]  # a list, not the text
        text = super().to_python(value) or ""
        items = [item.strip() for item in text.replace("\n", ",").split(",")]
        items = [item for item in items if item]
        if self.item_type == "integer":
            try:
                return [int(item) for item in items]
            except ValueError:
                raise forms.ValidationError(_("Give whole numbers separated by commas.")) from None
        return items


class _JSONListField(forms.JSONField):
    """A list of objects, as camelCase JSON, indented to be read and edited."""

    def prepare_value(self, value):
        if isinstance(value, list):
            return json.dumps(value, ensure_ascii=False, indent=2)
        return super().prepare_value(value)

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return []
        if not isinstance(value, list):
            raise forms.ValidationError(_("Give a JSON list ([…])."))
        return value


def _resolve(prop: dict, defs: dict) -> tuple[dict, bool]:
    """The schema of a property with ``$ref`` followed, and whether it may be null."""
    nullable = False
    if "anyOf" in prop:
        options = [option for option in prop["anyOf"] if option.get("type") != "null"]
        nullable = len(options) < len(prop["anyOf"])
        prop = {**prop, **options[0]}
        del prop["anyOf"]
    if "$ref" in prop:
        target = defs[prop["$ref"].rsplit("/", 1)[1]]
        prop = {**target, **{k: v for k, v in prop.items() if k != "$ref"}}
    return prop, nullable


def _field(path: str, prop: dict, defs: dict) -> dict[str, forms.Field]:
    """The form field(s) of one setting: its own, or one per part of a nested object."""
    prop, nullable = _resolve(prop, defs)
    # Built once at import: every text here is translated when the page is rendered.
    description = gettext_lazy(prop["description"]) if prop.get("description") else ""
    kind = prop.get("type")
    if "enum" in prop:
        choices = [(name, name) for name in prop["enum"]]
        return {
            path: forms.ChoiceField(
                choices=_BLANK + choices if nullable else choices,
                required=not nullable,
                label=path,
                help_text=description,
            )
        }
    if kind == "object":
        fields: dict[str, forms.Field] = {}
        for name, part in prop.get("properties", {}).items():
            for sub_path, field in _field(f"{path}.{name}", part, defs).items():
                if nullable:  # all of its parts empty: the setting is null
                    field.required = False
                    _NULLABLE_GROUP[sub_path] = path
                fields[sub_path] = field
        return fields
    if kind == "boolean":
        return {path: forms.BooleanField(required=False, label=path, help_text=description)}
    if kind == "integer":
        return {
            path: forms.IntegerField(
                required=not nullable,
                min_value=prop.get("minimum"),
                max_value=prop.get("maximum"),
                label=path,
                help_text=description,
            )
        }
    if kind == "number":
        return {path: forms.FloatField(required=not nullable, label=path, help_text=description)}
    if kind == "string":
        return {
            path: forms.CharField(
                required=not nullable,
                max_length=prop.get("maxLength"),
                strip=True,
                label=path,
                help_text=description,
            )
        }
    if kind == "array":
        items, _nullable = _resolve(prop.get("items", {}), defs)
        if items.get("type") == "object":
            return {
                path: _JSONListField(
                    required=False,
                    label=path,
                    help_text=format_lazy(
                        "{} {}",
                        description,
                        gettext_lazy("A JSON list, keys in camelCase as in the API."),
                    ),
                    widget=forms.Textarea(attrs={"rows": 8, "cols": 80}),
                )
            }
        item_type = "integer" if items.get("type") == "integer" else "string"
        allowed = f" ({' / '.join(items['enum'])})" if "enum" in items else ""
        widget = (
            forms.Textarea(attrs={"rows": 3, "cols": 60})
            if item_type == "string" and not allowed
            else forms.TextInput(attrs={"size": 60})
        )
        return {
            path: _ListField(
                item_type,
                label=path,
                help_text=format_lazy(
                    "{} {}{}",
                    description,
                    gettext_lazy("Separated by commas or new lines."),
                    allowed,
                ),
                widget=widget,
            )
        }
    raise TypeError(f"no form field for the policy setting {path} ({prop})")  # a new kind


def policy_fields() -> dict[str, forms.Field]:
    """Every setting of the policy as a form field, in the schema's order."""
    schema = policy_json_schema()
    fields: dict[str, forms.Field] = {}
    for name, prop in schema["properties"].items():
        fields.update(_field(name, prop, schema.get("$defs", {})))
    return fields


def flatten(policy: dict[str, Any], fields) -> dict[str, Any]:
    """A policy in the API's spelling as initial values of the fields."""
    initial = {}
    for path in fields:
        value: Any = policy
        for key in path.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        initial[path] = value
    return initial


def nest(cleaned: dict[str, Any], fields) -> dict[str, Any]:
    """The fields' values as one policy (camelCase, nested); a nullable nested
    setting left wholly empty is null."""
    policy: dict[str, Any] = {}
    for path in fields:
        target = policy
        *parents, last = path.split(".")
        for key in parents:
            target = target.setdefault(key, {})
        value = cleaned.get(path)
        target[last] = None if value == "" else value
    groups = {_NULLABLE_GROUP[path] for path in fields if path in _NULLABLE_GROUP}
    for group in groups:
        *parents, last = group.split(".")
        target = policy
        for key in parents:
            target = target[key]
        if all(value is None for value in target[last].values()):
            target[last] = None
    return policy


if TYPE_CHECKING:
    _FormBase = forms.BaseForm  # the form the mixin goes into
else:
    _FormBase = object


class PolicyFormMixin(_FormBase):
    """For a form whose declared fields are ``policy_fields()``: starts from the
    region's policy and collects ``self.policy`` (the API's spelling), or shows
    each refusal on the field it names."""

    policy: dict[str, Any] | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        instance = getattr(self, "instance", None)
        if instance is not None and instance.pk:
            self.initial.update(flatten(instance.get_policy().as_api_json(), POLICY_FIELDS))

    def clean(self):
        cleaned = super().clean()
        if cleaned is None or any(path in self.errors for path in POLICY_FIELDS):
            return cleaned
        policy = nest(cleaned, POLICY_FIELDS)
        try:
            validate_policy(policy)
        except PolicyError as error:
            for path, message in error.problems.items():
                self.add_error(_field_of(path), f"{path}: {message}")
            return cleaned
        self.policy = policy
        return cleaned


def _field_of(path: str) -> str | None:
    """The form field a refusal's camelCase path (``starThresholds``,
    ``groupNaming.hubNamePatterns.0.level``) belongs to; None: the whole form."""
    parts = path.removeprefix("policy.").split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in POLICY_FIELDS:
            return candidate
    return None


POLICY_FIELDS = policy_fields()
POLICY_FIELDSET_DESCRIPTION = gettext_lazy(
    "Each setting under the key the API (updateRegionPolicy) and the CLI "
    "(manage.py region set-policy) use; choices by the names the API shows."
)
