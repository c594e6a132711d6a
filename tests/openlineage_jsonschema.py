"""A received OpenLineage event checked with ``jsonschema`` against the spec's own JSON Schema files.

``openlineage_schema`` checks an event against the classes openlineage-python generates from the
spec. This module checks it against the JSON Schema files themselves: ``openlineage_spec/`` holds
``spec/OpenLineage.json`` and ``spec/facets/*.json`` of the OpenLineage repository (see its
``SOURCE.md``), the files the client's generated classes are built from; ``test_lineage`` asserts
that their ``$id`` are the schema URLs of the installed client's classes, so both checks judge the
same spec version. Nothing is fetched: references resolve within these files.

* The event is validated (Draft 2020-12, with format checks: ``uuid``, ``date-time``, ``uri``)
  against the definition its ``schemaURL`` names (``.../2-0-2/OpenLineage.json#/$defs/RunEvent``).
* Each facet is validated against the definition its ``_schemaURL`` names, which must be one of
  these files: the core schema types a facet only as a base facet, open to any key.
* A facet must sit under the key its file declares (``parent`` for ``ParentRunFacet``,
  ``dataQualityAssertions`` for ``DataQualityAssertionsDatasetFacet``) and be of the kind its
  place takes (a run facet in ``run.facets``, an input dataset facet in ``inputFacets``, ...; a
  dataset's ``facets`` takes any dataset facet, as the core schema types it structurally).

Errors are ``openlineage_schema.InvalidEvent`` with the JSON path of the offending value.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import referencing
from openlineage_schema import InvalidEvent
from referencing.jsonschema import DRAFT202012

SPEC_DIR = Path(__file__).parent / "openlineage_spec"
CORE = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
DATASET_KINDS = ("DatasetFacet", "InputDatasetFacet", "OutputDatasetFacet")


@functools.cache
def spec_files() -> dict[str, dict]:
    """Each vendored schema by its ``$id``."""
    schemas = [json.loads(p.read_text()) for p in sorted(SPEC_DIR.rglob("*.json"))]
    return {schema["$id"]: schema for schema in schemas}


@functools.cache
def _registry() -> referencing.Registry:
    return referencing.Registry().with_resources(
        (url, DRAFT202012.create_resource(schema)) for url, schema in spec_files().items()
    )


@functools.cache
def _validator(url: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        {"$ref": url},
        registry=_registry(),
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


def _check(value: Any, url: str, path: str) -> None:
    error = jsonschema.exceptions.best_match(_validator(url).iter_errors(value))
    if error is not None:
        where = path + error.json_path[1:]
        raise InvalidEvent(where, f"{error.message} (JSON Schema {url})")


def facet_places(event: dict) -> Iterator[tuple[str, Any, tuple[str, ...]]]:
    """(path, facets map, the kinds it takes) for every facets map of a run event."""
    for part, kind in (("run", "RunFacet"), ("job", "JobFacet")):
        if isinstance(event.get(part), dict) and "facets" in event[part]:
            yield f"$.{part}.facets", event[part]["facets"], (kind,)
    for side, own_field, own_kind in (
        ("inputs", "inputFacets", "InputDatasetFacet"),
        ("outputs", "outputFacets", "OutputDatasetFacet"),
    ):
        for i, dataset in enumerate(event.get(side) or []):
            if not isinstance(dataset, dict):
                continue
            if "facets" in dataset:
                yield f"$.{side}[{i}].facets", dataset["facets"], DATASET_KINDS
            if own_field in dataset:
                yield f"$.{side}[{i}].{own_field}", dataset[own_field], (own_kind,)


def _check_facet(key: str, facet: Any, kinds: tuple[str, ...], path: str) -> None:
    url = facet.get("_schemaURL") if isinstance(facet, dict) else None
    if not isinstance(url, str):
        raise InvalidEvent(f"{path}._schemaURL", "missing: a facet names its schema")
    file_url, _, fragment = url.partition("#")
    schema = spec_files().get(file_url)
    name = fragment.removeprefix("/$defs/")
    if schema is None or name not in schema.get("$defs", {}):
        raise InvalidEvent(f"{path}._schemaURL", f"{url!r} names no facet of the spec files")
    declared = schema.get("properties", {})
    if key not in declared:
        raise InvalidEvent(path, f"{name} sits under {', '.join(declared)!s}, not {key!r}")
    bases = [
        ref.get("$ref", "").rpartition("/")[2] for ref in schema["$defs"][name].get("allOf", [])
    ]
    kind = next((b for b in bases if b.endswith("Facet")), None)
    if kind is not None and kind not in kinds:
        raise InvalidEvent(path, f"{name} is a {kind}: not here ({' or '.join(kinds)})")
    _check(facet, url, path)


def validate_against_spec_files(event: Any) -> None:
    """Raise ``InvalidEvent`` at the first thing of ``event`` the spec's JSON Schema refuses."""
    if not isinstance(event, dict):
        raise InvalidEvent("$", "an event is a JSON object")
    url = event.get("schemaURL")
    if url != f"{CORE}#/$defs/RunEvent":
        raise InvalidEvent("$.schemaURL", f"{url!r} is not the RunEvent of {CORE}")
    _check(event, url, "$")
    for path, facets, kinds in facet_places(event):
        for key, facet in facets.items():
            _check_facet(key, facet, kinds, f"{path}.{key}")
