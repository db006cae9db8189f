"""CEL validation rules of a CRD (`x-kubernetes-validations`), compiled and evaluated with cel-python.

Every rule is compiled when the CRD loads; one that does not parse, calls a function cel-python lacks
(Kubernetes' own CEL libraries: quantity, url, isSorted, ...) or needs `optionalOldSelf` is refused
then, with the rule named, never skipped. As in Kubernetes, a rule sees its value as `self`; a rule that
mentions `oldSelf` is a transition rule, evaluated only on updates where the stored object has a
value at the same place.
"""

from dataclasses import dataclass
from typing import Any

import celpy
import lark
from celpy import celtypes, evaluation

from tests.kube.fielderrors import FieldError, type_name
from tests.kube.structural import walk

MACROS = frozenset({"has", "all", "exists", "exists_one", "map", "filter"})
KNOWN = MACROS | {name for name in evaluation.base_functions if name[0].isalpha()}
REASONS = {
    None: "Invalid value",
    "FieldValueInvalid": "Invalid value",
    "FieldValueForbidden": "Forbidden",
    "FieldValueRequired": "Required value",
    "FieldValueDuplicate": "Duplicate value",
}
ENVIRONMENT = celpy.Environment()


class RuleError(ValueError):
    """A CRD carries a rule this double cannot evaluate faithfully."""


@dataclass(frozen=True)
class Program:
    runner: Any
    transition: bool


def _compile(text: str, where: str) -> Program:
    try:
        tree = ENVIRONMENT.compile(text)
    except celpy.CELParseError as e:
        raise RuleError(f"the CEL rule {text!r} at {where} does not parse: {e}") from e
    names = set()
    for node in tree.iter_subtrees():
        tokens = [c for c in node.children if isinstance(c, lark.Token)]
        if node.data in ("member_dot_arg", "ident_arg") and tokens:
            names.add(str(tokens[0]))
    unknown = sorted(names - KNOWN)
    if unknown:
        raise RuleError(
            f"the CEL rule {text!r} at {where} calls {', '.join(unknown)}, which cel-python does not "
            "implement (a Kubernetes CEL library); teach tests/kube/celrules.py that function first"
        )
    idents = {str(t) for node in tree.iter_subtrees() if node.data == "ident" for t in node.children}
    return Program(ENVIRONMENT.program(tree), transition="oldSelf" in idents)


class Rules:
    """The compiled `x-kubernetes-validations` of one schema; `check` evaluates them on an object."""

    def __init__(self, schema: dict):
        self._schema = schema
        self._programs: dict[str, Program] = {}
        self._collect(schema, "openAPIV3Schema")

    def _collect(self, node: dict, where: str) -> None:
        for rule in node.get("x-kubernetes-validations", []):
            text = rule["rule"]
            if rule.get("optionalOldSelf"):
                raise RuleError(
                    f"the CEL rule {text!r} at {where} uses optionalOldSelf: this double lacks it"
                )
            if rule.get("reason") not in REASONS:
                raise RuleError(f"the CEL rule {text!r} at {where} has an unknown reason {rule['reason']!r}")
            for source in (text, rule.get("messageExpression")):
                if source and source not in self._programs:
                    self._programs[source] = _compile(source, where)
        for name, sub in node.get("properties", {}).items():
            self._collect(sub, f"{where}.properties.{name}")
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                self._collect(node[key], f"{where}.{key}")

    def __len__(self) -> int:
        return len(self._programs)

    def check(self, obj: dict, old: dict | None) -> list[FieldError]:
        """The rules `obj` breaks; transition rules compare with `old` (None on create: skipped)."""
        errors = []
        for value, before, schema, path in walk(obj, old, self._schema):
            for rule in schema.get("x-kubernetes-validations", []):
                error = self._evaluate(rule, value, before, schema, path)
                if error is not None:
                    errors.append(error)
        return errors

    def _run(self, source: str, activation: dict) -> Any:
        try:
            return self._programs[source].runner.evaluate(activation)
        except evaluation.CELEvalError as e:
            return e

    def _evaluate(self, rule: dict, value: Any, before: Any, schema: dict, path: str) -> FieldError | None:
        program = self._programs[rule["rule"]]
        if program.transition and before is None:
            return None
        activation = {"self": celpy.json_to_cel(value)}
        if program.transition:
            activation["oldSelf"] = celpy.json_to_cel(before)
        field = (path + rule["fieldPath"]).lstrip(".") if rule.get("fieldPath") else path
        shown_type = schema.get("type", type_name(value))  # rule errors show the type, not the value
        result = self._run(rule["rule"], activation)
        if isinstance(result, celtypes.BoolType) and bool(result):
            return None
        if not isinstance(result, celtypes.BoolType):  # an evaluation error fails the rule, loudly
            detail = f"the rule {rule['rule']!r} did not evaluate to a bool: {str(result)[:300]}"
            return FieldError(field, "Invalid value", detail, shown_type)
        message = rule.get("message") or f"failed rule: {rule['rule']}"
        if rule.get("messageExpression"):
            said = self._run(rule["messageExpression"], activation)
            if isinstance(said, celtypes.StringType) and said.strip():
                message = str(said)
        return FieldError(field, REASONS[rule.get("reason")], message, shown_type)
