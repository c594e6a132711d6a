"""A strict check of received OpenLineage events against the spec as ``openlineage-python`` ships it.

openlineage-python ships no ``OpenLineage.json`` file: it ships the spec's JSON Schema as classes
generated from it (``openlineage.client.generated``: attrs classes with the spec's fields, which
of them are required, their types, the client's validators and each definition's schema URL in
``_get_schema()``). This module checks a received event (the JSON an HTTP endpoint got) by
rebuilding it into those classes (``openlineage_jsonschema`` checks it against the spec's JSON
Schema files, copied into ``openlineage_spec/``):

* the event becomes ``openlineage.client.event_v2.RunEvent``, every nested object the class its
  field's type hint names (``typing.get_type_hints`` on the generated modules);
* a facet becomes the generated class whose ``_get_schema()`` is its ``_schemaURL`` (all modules of
  ``openlineage.client.generated`` are walked); an unknown URL is an error, as is a facet of the
  wrong kind (a job facet in ``run.facets``, ...). A dataset's ``facets`` map takes any dataset
  facet (plain, input or output): the spec types that map structurally (any object with
  ``_producer`` and ``_schemaURL``), and this project puts ``dataQualityAssertions``, which the
  spec declares an input dataset facet, in ``outputs[].facets``;
* a key the class does not declare is an error, stricter than the JSON Schema, which leaves
  objects open and says so explicitly (``additionalProperties: true``) for every facet. Extra
  keys are accepted only where the generated class itself has ``with_additional_properties``
  besides ``BaseFacet`` (``JobDependency``, the column-lineage ``Fields``, ``InputField``,
  ``Transformation``), and inside free-form ``dict[str, Any]`` fields (an assertion's
  ``params``). Custom facets (a producer's own ``_schemaURL``) are rejected: this project sends none;
* a required field (no default in the class) must be present; values must have the hinted type
  (str, bool, int, float, list, dict, ``Literal``, the enums such as ``EventType``, None only
  where the hint allows it);
* the client's own attrs validators run on every object (``eventTime`` is ISO 8601 with a time,
  ``runId`` a UUID, ...), each error named by the field's path;
* finally ``openlineage.client.serde.Serde.to_dict`` of the rebuilt event must equal the received
  JSON, which also checks the values the classes fix themselves (``schemaURL``, a facet's
  ``_schemaURL``, a default ``producer`` where none was sent).

Errors are ``InvalidEvent`` with the JSON path of the offending value (``$.run.runId``).
"""

from __future__ import annotations

import difflib
import enum
import functools
import importlib
import pkgutil
import types
import typing
from typing import Any

import attr
import openlineage.client.generated as generated
from openlineage.client.event_v2 import RunEvent
from openlineage.client.generated.base import (
    BaseFacet,
    DatasetFacet,
    InputDatasetFacet,
    OutputDatasetFacet,
)
from openlineage.client.serde import Serde

SCALARS: dict[type, tuple[type, ...]] = {
    str: (str,),
    bool: (bool,),
    int: (int,),
    float: (int, float),  # a JSON Schema "number" may be written 3
}
# the facet kinds a map typed ``dict[str, KIND]`` takes (default: KIND's subclasses)
ACCEPTED_KINDS: dict[type, tuple[type, ...]] = {
    DatasetFacet: (DatasetFacet, InputDatasetFacet, OutputDatasetFacet),
}


class InvalidEvent(ValueError):
    """A received event that the spec, as the client ships it, does not accept."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


@functools.cache
def facet_classes() -> dict[str, type]:
    """Every concrete facet class of ``openlineage.client.generated``, by its schema URL."""
    found: dict[str, type] = {}
    for info in pkgutil.iter_modules(generated.__path__):
        if info.name == "base":  # BaseFacet, RunFacet, ...: the kinds, not facets
            continue
        module = importlib.import_module(f"{generated.__name__}.{info.name}")
        for obj in vars(module).values():
            if (
                isinstance(obj, type)
                and obj.__module__ == module.__name__
                and issubclass(obj, BaseFacet)
            ):
                url = obj._get_schema()
                if found.get(url, obj) is not obj:
                    raise RuntimeError(f"two facet classes have the schema URL {url}")
                found[url] = obj
    return found


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(
        type(value), "number" if isinstance(value, int | float) else type(value).__name__
    )


def _describe(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("openlineage.client.generated.", "")


def _open(cls: type) -> bool:
    """Whether the spec lets objects of ``cls`` carry keys it does not declare (facets aside)."""
    return "with_additional_properties" in vars(cls) and not issubclass(cls, BaseFacet)


def _build(value: Any, hint: Any, path: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if value is None:
            if len(options) < len(args):
                return None
            raise InvalidEvent(path, f"null where {_describe(hint)} is required")
        if len(options) == 1:
            return _build(value, options[0], path)
        errors = []
        for option in options:
            try:
                return _build(value, option, path)
            except InvalidEvent as exc:
                errors.append(str(exc))
        raise InvalidEvent(path, f"matches none of {_describe(hint)}: " + "; ".join(errors))
    if value is None:
        raise InvalidEvent(path, f"null where {_describe(hint)} is required")
    if origin is typing.Literal:
        if value not in args:
            raise InvalidEvent(path, f"{value!r} is not {' or '.join(map(repr, args))}")
        return value
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError:
            allowed = ", ".join(m.value for m in hint)
            raise InvalidEvent(path, f"{value!r} is not a {hint.__name__} ({allowed})") from None
    if origin is list:
        if not isinstance(value, list):
            raise InvalidEvent(path, f"expected an array, got {_json_type(value)} {value!r}")
        return [_build(v, args[0], f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise InvalidEvent(path, f"expected an object, got {_json_type(value)} {value!r}")
        return {k: _build(v, args[1], f"{path}.{k}") for k, v in value.items()}
    if isinstance(hint, type) and attr.has(hint):
        return _build_object(value, hint, path)
    if hint in SCALARS:
        if not isinstance(value, SCALARS[hint]) or (hint is not bool and isinstance(value, bool)):
            raise InvalidEvent(path, f"expected {hint.__name__}, got {_json_type(value)} {value!r}")
        return value
    raise InvalidEvent(path, f"type {_describe(hint)} is not known to this validator")


def _facet_class(value: dict, kind: type, path: str) -> type:
    url = value.get("_schemaURL")
    if not isinstance(url, str):
        raise InvalidEvent(f"{path}._schemaURL", "missing: a facet names its schema")
    cls = facet_classes().get(url)
    if cls is None:
        near = difflib.get_close_matches(url, facet_classes(), n=1, cutoff=0.8)
        hint = f"; did you mean {near[0]}?" if near else ""
        raise InvalidEvent(
            f"{path}._schemaURL",
            f"{url!r} is the schema URL of no facet in openlineage.client.generated{hint}",
        )
    if not issubclass(cls, ACCEPTED_KINDS.get(kind, (kind,))):
        base = next(b for b in cls.__mro__[1:] if b.__module__ == BaseFacet.__module__)
        raise InvalidEvent(path, f"{cls.__name__} is a {base.__name__}: not here ({kind.__name__})")
    return cls


def _build_object(value: Any, hint: type, path: str) -> Any:
    if not isinstance(value, dict):
        raise InvalidEvent(path, f"expected an object ({hint.__name__}), got {_json_type(value)}")
    cls = _facet_class(value, hint, path) if issubclass(hint, BaseFacet) else hint
    fields = {a.name: a for a in attr.fields(cls)}  # wire keys are attribute names (_producer)
    extra = {k: v for k, v in value.items() if k not in fields}
    if extra and not _open(cls):
        key = sorted(extra)[0]
        raise InvalidEvent(
            f"{path}.{key}",
            f"not a field of {cls.__name__} ({', '.join(fields)})",
        )
    missing = [a.name for a in fields.values() if a.init and a.default is attr.NOTHING]
    missing = [name for name in missing if name not in value]
    if missing:
        raise InvalidEvent(f"{path}.{missing[0]}", f"required by {cls.__name__}, missing")
    hints = _hints(cls)
    kwargs = {
        a.alias: _build(value[a.name], hints[a.name], f"{path}.{a.name}")
        for a in fields.values()
        if a.init and a.name in value
    }
    with attr.validators.disabled():  # run below one by one, so an error names its field
        obj = cls(**kwargs)
    for a in fields.values():
        if a.validator is not None:
            try:
                a.validator(obj, a, getattr(obj, a.name))
            except Exception as exc:  # noqa: BLE001 - any validator error is the event's
                raise InvalidEvent(f"{path}.{a.name}", f"{type(exc).__name__}: {exc}") from exc
    if extra:
        obj = obj.with_additional_properties(**extra)
    return obj


def _first_difference(received: Any, rebuilt: Any, path: str) -> str | None:
    if isinstance(received, dict) and isinstance(rebuilt, dict):
        for key in sorted(set(received) | set(rebuilt)):
            if key not in rebuilt:
                return f"{path}.{key}: received, not in the rebuilt event"
            if key not in received:
                return f"{path}.{key}: not received, the client's class sets {rebuilt[key]!r}"
            found = _first_difference(received[key], rebuilt[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(received, list) and isinstance(rebuilt, list) and len(received) == len(rebuilt):
        for i, (a, b) in enumerate(zip(received, rebuilt, strict=True)):
            found = _first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return None
    if received != rebuilt or type(received) is not type(rebuilt):
        return f"{path}: received {received!r}, the client serialises {rebuilt!r}"
    return None


def validate_run_event(event: Any) -> RunEvent:
    """The received ``event`` (parsed JSON) rebuilt as the client's ``RunEvent``; raises
    ``InvalidEvent`` naming the path of the first thing the spec does not accept."""
    rebuilt = _build_object(event, RunEvent, "$")
    difference = _first_difference(event, Serde.to_dict(rebuilt), "$")
    if difference:
        path, _, message = difference.partition(": ")
        raise InvalidEvent(path, f"round trip through Serde.to_dict differs: {message}")
    return rebuilt
