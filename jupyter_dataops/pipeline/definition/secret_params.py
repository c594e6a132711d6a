"""Secret parameters: ``${NAME}`` references to the environment, values that never land on disk.

A parameter's value in ``dataops.yaml`` or ``-p`` may be ``${NAME}``: the environment variable
``NAME``, read when the step runs (typed like any ``-p`` text). A parameter is *secret* when it is
a ``${NAME}`` reference (whatever it is called) or when the run store would hide its value
(``store.redact``: a secret-looking name such as ``db_password`` or ``api_token``, or a URL with
a password); this is judged once, when the value is parsed into a ``Parameter``. A secret value
reaches the kernel through its environment (``DATAOPS_SECRET_<NAME>``) and the injected
parameters cell reads it by name, so the executed notebook, its log and everything built from
them hold no value; no message ever quotes it. A value longer than ``MAX_VALUE_CHARS`` is
refused before anything else looks at it. Promotion refuses to
write a literal secret into ``dataops.yaml``; ``$${...}`` is a literal text starting with ``${``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any

from jupyter_dataops.pipeline.definition.notebook import (
    NotebookParameter,
    ParameterError,
    check_value,
    parse_value,
    split_assignment,
    unknown_parameter,
)
from jupyter_dataops.store.redact import REDACTED, redact_parameters

_REFERENCE = re.compile(r"^\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}$")
KERNEL_PREFIX = "DATAOPS_SECRET_"
MAX_VALUE_CHARS = 100_000  # one parameter's text (-p, dataops.yaml, REST); docs/SECURITY.md


class UnsetVariable(ParameterError):
    """A ``${NAME}`` reference to an environment variable that is not set."""

    def __init__(self, variable: str, parameter: str, where: str = "") -> None:
        self.variable = variable
        self.parameter = parameter
        super().__init__(
            f"{where}environment variable {variable} is not set (parameter {parameter!r} is "
            f"${{{variable}}}). Set {variable} in the environment of the process that runs the "
            "step (your shell, the scheduler's service, the Jupyter server) and run again."
        )


@dataclass(frozen=True)
class EnvReference:
    """A parameter whose value is the environment variable ``variable``, read when it runs."""

    variable: str
    parameter: NotebookParameter
    origin: str = "dataops.yaml"

    def __str__(self) -> str:
        return f"${{{self.variable}}}"


def reference(value: Any) -> str | None:
    """The variable a whole-value reference ``${NAME}`` names, else ``None`` (``$${...}`` is a
    literal); a malformed one (``${}``, ``${DB PASSWORD}``) is refused with the form to use."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text.startswith("${"):
        return None
    match = _REFERENCE.match(text)
    if match is None:
        raise ParameterError(
            f"{text!r} is not an environment reference: write ${{NAME}} with NAME made of "
            "letters, digits and '_' (not starting with a digit), e.g. ${DB_PASSWORD}; write "
            "$${...} for a text that starts with '${'."
        )
    return match.group("name")


def _unescape(value: Any) -> Any:
    if isinstance(value, str) and value.strip().startswith("$${"):
        return value.replace("$${", "${", 1)
    return value


def is_secret(name: str, value: Any) -> bool:
    """The one rule for secrets: a ``${NAME}`` reference (whatever the parameter is called), or
    a value the run store would hide (a secret-looking name, a URL with a password)."""
    if isinstance(value, EnvReference):
        return True
    if isinstance(value, str) and _REFERENCE.match(value.strip()):
        return True
    return (redact_parameters({name: value}) or {}).get(name) != value


def shown(name: str, value: Any) -> Any:
    """``value`` as messages and answers may show it (``***`` where the store hides it)."""
    return (redact_parameters({name: value}) or {}).get(name)


def shown_parameters(values: Mapping[str, Any]) -> dict[str, Any]:
    """A step's parameters as answers may show them: ``${NAME}`` references as written (they
    hold no value), literal secrets as ``***``."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, EnvReference):
            value = str(value)
        is_ref = isinstance(value, str) and _REFERENCE.match(value.strip())
        out[key] = value if is_ref else shown(key, value)
    return out


class ValueTooLong(ParameterError):
    """A parameter value longer than ``MAX_VALUE_CHARS``: refused before it is looked at."""

    def __init__(self, name: str, length: int, where: str = "") -> None:
        super().__init__(
            f"{where}parameter {name!r}: its value is {length:,} characters long, more than the "
            f"limit of {MAX_VALUE_CHARS:,}. Pass large data as a file path or a table name and "
            "read it in the notebook."
        )


def check_length(name: str, raw: Any, *, where: str = "") -> None:
    """Refuse (``ValueTooLong``) a text value over ``MAX_VALUE_CHARS``."""
    if isinstance(raw, str) and len(raw) > MAX_VALUE_CHARS:
        raise ValueTooLong(name, len(raw), where)


@dataclass(frozen=True)
class Parameter:
    """One parameter value as given, parsed once.

    ``raw`` is the ``-p`` text (``text``) or the value ``dataops.yaml`` or a REST body holds;
    ``value`` is ``raw`` typed for the notebook's parameter, or an ``EnvReference`` (set by
    ``typed``); ``secret`` is the one judgement of ``is_secret``, made when it was parsed.
    """

    name: str
    step: str | None
    raw: Any
    value: Any = None
    secret: bool = False
    origin: str = "dataops.yaml"
    text: bool = False

    @property
    def quoted(self) -> str:
        """The item as messages may quote it (``***`` for a secret, a long text cut short)."""
        prefix = f"{self.step}." if self.step else ""
        raw = self.raw if isinstance(self.raw, str) else json.dumps(self.raw, default=str)
        return f"{prefix}{self.name}={REDACTED if self.secret else clipped(raw)}"

    def typed(self, param: NotebookParameter, *, where: str = "") -> Parameter:
        """This value typed for ``param`` (a ``${NAME}`` stays an ``EnvReference``)."""
        value = step_value(self.raw, param, where=where, origin=self.origin, text=self.text)
        return replace(self, value=value)


def clipped(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters for a message, saying how long it was."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def parse_item(item: str) -> Parameter:
    """A ``-p key=value`` / ``step.key=value`` item, split and judged once (not yet typed)."""
    if len(item) > MAX_VALUE_CHARS + 200:  # before any other work on it
        raise ValueTooLong(clipped(item.partition("=")[0], 60), len(item.partition("=")[2]))
    step, key, raw = split_assignment(item)
    check_length(key, raw, where=f"-p {key}: ")
    return Parameter(key, step, raw, secret=is_secret(key, raw), origin=f"-p {key}", text=True)


def from_file(name: str, value: Any) -> Parameter:
    """A value ``dataops.yaml`` holds for ``name``, judged once (not yet typed)."""
    check_length(name, value, where="dataops.yaml: ")
    return Parameter(name, None, value, secret=is_secret(name, value))


def step_value(
    value: Any, param: NotebookParameter, *, where: str = "", origin: str, text: bool = False
) -> Any:
    """A parameter value as planned: an ``EnvReference`` for ``${NAME}``, else the value typed
    for ``param`` (``text``: parsed as ``-p`` text, else checked as a YAML value)."""
    try:
        variable = reference(value)
    except ParameterError as exc:
        raise ParameterError(f"{where}parameter {param.name!r}: {exc}") from None
    if variable is not None:
        return EnvReference(variable, param, origin)
    value = _unescape(value)
    if text:
        return parse_value(value, param, where=where)
    return check_value(value, param, where=where)


def parse_overrides(
    items: list[str] | tuple[str, ...], params: dict[str, NotebookParameter], *, where: str = ""
) -> dict[str, Parameter]:
    """``-p key=value`` items of one notebook, typed, ``${NAME}`` kept as ``EnvReference``."""
    out: dict[str, Parameter] = {}
    for item in items:
        given = parse_item(item)
        if given.step is not None:
            raise ParameterError(
                f"-p {given.quoted!r}: a step prefix is only meaningful for `dataops run`; "
                f"use -p {given.name}=..."
            )
        if given.name not in params:
            raise unknown_parameter(given.name, params, where=where)
        out[given.name] = given.typed(params[given.name], where=where)
    return out


def values_of(parameters: Mapping[str, Parameter]) -> dict[str, Any]:
    """The typed values (``EnvReference`` for a reference) by name."""
    return {name: p.value for name, p in parameters.items()}


def secret_names(parameters: Mapping[str, Parameter]) -> frozenset[str]:
    """The names judged secret."""
    return frozenset(name for name, p in parameters.items() if p.secret)


def as_written(values: Mapping[str, Any]) -> dict[str, Any]:
    """Values as ``dataops.yaml`` and the run store keep them: references as ``${NAME}`` text,
    a literal text starting with ``${`` escaped as ``$${``."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, EnvReference):
            value = str(value)
        elif isinstance(value, str) and value.strip().startswith("${"):
            value = "$" + value.lstrip()
        out[key] = value
    return out


def resolve(
    values: Mapping[str, Any], environ: Mapping[str, str] | None = None, *, where: str = ""
) -> dict[str, Any]:
    """``values`` with every reference read from ``environ`` (default: this process) and typed;
    an unset variable raises ``UnsetVariable`` naming it. The value read is never quoted: an
    error names the variable and the type expected."""
    env = os.environ if environ is None else environ
    out: dict[str, Any] = {}
    for key, value in values.items():
        if not isinstance(value, EnvReference):
            out[key] = value
            continue
        if value.variable not in env:
            raise UnsetVariable(value.variable, key, where)
        raw = env[value.variable]
        param = value.parameter
        if len(raw) > MAX_VALUE_CHARS:
            raise ParameterError(
                f"{where}parameter {key!r}: the value of ${{{value.variable}}} (environment "
                f"variable {value.variable}) is {len(raw):,} characters long, more than the "
                f"limit of {MAX_VALUE_CHARS:,}."
            )
        try:
            out[key] = parse_value(raw, param, where=where)
        except ParameterError:
            kind = f"{param.type} or None" if param.optional and param.type != "any" else param.type
            raise ParameterError(
                f"{where}parameter {key!r} expects {kind} (its default in the parameters cell "
                f"is {param.source}), but the value of ${{{value.variable}}} (environment "
                f"variable {value.variable}) is not {_article(kind)}. Set {value.variable} to "
                f"{_article(kind)} and run again."
            ) from None
    return out


def _article(kind: str) -> str:
    return f"an {kind}" if kind[:1] in "aeiou" else f"a {kind}"


def kernel_values(
    values: Mapping[str, Any],
    secret: Collection[str],
    environ: Mapping[str, str] | None = None,
    *,
    where: str = "",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Values read (``resolve``) and split as ``(public, secret)`` by the names judged secret:
    the secret ones go to the kernel's environment, never into the notebook."""
    resolved = resolve(values, environ, where=where)
    public = {k: v for k, v in resolved.items() if k not in secret}
    return public, {k: v for k, v in resolved.items() if k in secret}


def literal_secrets(parameters: Mapping[str, Parameter]) -> list[str]:
    """Names of secret parameters given as values rather than ``${NAME}`` references."""
    return [
        name for name, p in parameters.items() if p.secret and not isinstance(p.value, EnvReference)
    ]


def suggested_variable(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name).upper()


def refuse_literal_secrets(parameters: Mapping[str, Parameter], *, where: str = "") -> None:
    """Refuse (``ParameterError``) to write secret values into ``dataops.yaml``, saying the
    reference form to use instead. The message never holds the value."""
    names = literal_secrets(parameters)
    if not names:
        return
    forms = ", ".join(f"-p '{n}=${{{suggested_variable(n)}}}'" for n in names)
    yaml_forms = "; ".join(f"{n}: ${{{suggested_variable(n)}}}" for n in names)
    raise ParameterError(
        f"{where}refusing to write the value of secret parameter(s) {', '.join(names)} into "
        "dataops.yaml (a file kept in git). Put the value in an environment variable and give a "
        f"reference instead: {forms} (single quotes, so your shell does not expand it); in "
        f"dataops.yaml: `{yaml_forms}`. The variable is read each time the step runs."
    )


def literal_secret_warning(step: str, names: list[str], *, in_file: bool) -> str:
    """The warning for secret values given literally to one run (or found in the file)."""
    refs = ", ".join(f"{n}: ${{{suggested_variable(n)}}}" for n in names)
    if in_file:
        return (
            f"step {step!r}: dataops.yaml holds the value of secret parameter(s) "
            f"{', '.join(names)} in plain text; replace it by an environment reference "
            f"(`{refs}`) so it stays out of git."
        )
    return (
        f"step {step!r}: the secret value of {', '.join(names)} given with -p was used for this "
        "run only and is kept nowhere (not in dataops.yaml, the run store or the executed "
        f"notebook). For scheduled runs set an environment variable and write `{refs}` in "
        "dataops.yaml."
    )


def kernel_variable(name: str) -> str:
    """The kernel environment variable that carries secret parameter ``name``."""
    return KERNEL_PREFIX + suggested_variable(name)


class FromEnvironment(str):
    """A secret parameter as papermill sees it: ``***`` in the notebook's metadata, and in the
    injected cell ``os.environ[...]`` (``json.loads`` of it for a non-text value)."""

    variable: str
    decode: bool

    def __new__(cls, variable: str, decode: bool) -> FromEnvironment:
        obj = super().__new__(cls, REDACTED)
        obj.variable = variable
        obj.decode = decode
        return obj

    def __reduce__(self) -> tuple[Any, ...]:  # copies (nbformat deep-copies the notebook)
        return (FromEnvironment, (self.variable, self.decode))

    def expression(self) -> str:
        read = f"os.environ[{json.dumps(self.variable)}]"
        return f"json.loads({read})" if self.decode else read


def kernel_parameters(secrets: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Secret values as ``(papermill parameters, kernel environment)``."""
    python_translator()  # the injected cell then reads them from the environment
    params: dict[str, Any] = {}
    env: dict[str, str] = {}
    for key, value in secrets.items():
        variable = kernel_variable(key)
        decode = not isinstance(value, str)
        env[variable] = json.dumps(value) if decode else value
        params[key] = FromEnvironment(variable, decode)
    return params, env


_TRANSLATOR: Any = None


def python_translator() -> Any:
    """papermill's Python translator taught ``FromEnvironment`` (registered for ``python``)."""
    global _TRANSLATOR
    if _TRANSLATOR is not None:
        return _TRANSLATOR
    from papermill.translators import PythonTranslator, papermill_translators

    class SecretAwarePythonTranslator(PythonTranslator):
        """Writes ``name = os.environ["DATAOPS_SECRET_NAME"]`` for a secret, never its value."""

        @classmethod
        def translate(cls, val: Any) -> str:
            if isinstance(val, FromEnvironment):
                return val.expression()
            return super().translate(val)

        @classmethod
        def codify(cls, parameters: dict[str, Any], comment: str = "Parameters") -> str:
            content = super().codify(parameters, comment)
            secret = [v for v in parameters.values() if isinstance(v, FromEnvironment)]
            if not secret:
                return content
            head, _, rest = content.partition("\n")
            imports = "import os\n" + ("import json\n" if any(v.decode for v in secret) else "")
            return f"{head}\n{imports}{rest}"

    papermill_translators.register("python", SecretAwarePythonTranslator)
    _TRANSLATOR = SecretAwarePythonTranslator
    return _TRANSLATOR


def check_kernel_language(notebook: str, kernel: str | None) -> None:
    """Refuse secrets for a kernel whose injected cell could not read the environment."""
    import nbformat
    from papermill.engines import papermill_engines
    from papermill.translators import papermill_translators

    translator = python_translator()
    nb = nbformat.read(notebook, as_version=4)
    kernel_name = papermill_engines.nb_kernel_name(None, nb, kernel)
    language = papermill_engines.nb_language(None, nb)
    if papermill_translators.find_translator(kernel_name, language) is not translator:
        raise ParameterError(
            f"secret parameters reach the kernel through its environment, which works with "
            f"Python kernels only; kernel {kernel_name!r} ({language}) would get '***'. Read the "
            f"secret from the environment in the notebook instead."
        )


__all__ = [
    "KERNEL_PREFIX",
    "MAX_VALUE_CHARS",
    "EnvReference",
    "FromEnvironment",
    "Parameter",
    "UnsetVariable",
    "ValueTooLong",
    "as_written",
    "check_length",
    "from_file",
    "is_secret",
    "kernel_parameters",
    "kernel_values",
    "kernel_variable",
    "literal_secrets",
    "parse_item",
    "parse_overrides",
    "reference",
    "refuse_literal_secrets",
    "resolve",
    "secret_names",
    "shown",
    "shown_parameters",
    "values_of",
]
