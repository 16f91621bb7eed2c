"""Offline ``terraform validate`` for what the provider schema decides.

Checks parsed .tf files (python-hcl2, see ``slotwork_local.tfschema.read_tf``)
against ``terraform/provider-schema.json``: every resource, data source and
provider block must be a type the schema knows; every argument and nested
block must exist at the level it is written (``dynamic`` blocks checked as the
blocks they generate, ``lifecycle`` against Terraform's own rules, the other
meta-arguments allowed); required arguments and blocks must be present; a
block that may appear once must not appear twice; and every reference such as
``google_service_account.run.email`` must name a resource declared in the same
module and an attribute its type has. Expressions are not evaluated.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from slotwork_local.tfschema import labelled, unquote

Schema = Mapping[str, Any]  # one block's schema: arguments, blocks, computed


@dataclass(frozen=True)
class Problem:
    """One mistake, with where it is (file and block path) and what is wrong."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def _args(*names: str, required: bool = False) -> dict[str, Any]:
    return {name: {"type": "any", "required": required} for name in names}


def _block(arguments: dict[str, Any], blocks: dict[str, Any] | None = None) -> Schema:
    return {"arguments": arguments, "blocks": blocks or {}, "computed": []}


# Terraform's own nested blocks (the language, not a provider): docs of
# resources/lifecycle and of custom conditions, Terraform 1.5+.
_CONDITION = _block(_args("condition", "error_message", required=True))
_CONDITIONS = {
    kind: {"nesting": "list", "required": False, "block": _CONDITION}
    for kind in ("precondition", "postcondition")
}
RESOURCE_LIFECYCLE = _block(
    _args("create_before_destroy", "prevent_destroy", "ignore_changes", "replace_triggered_by"),
    _CONDITIONS,
)
DATA_LIFECYCLE = _block({}, _CONDITIONS)
META_ARGUMENTS = frozenset({"count", "for_each", "depends_on", "provider"})
# provisioner and connection blocks are accepted unchecked: no file here has any.
RESOURCE_META_BLOCKS: Mapping[str, Schema | None] = {
    "lifecycle": RESOURCE_LIFECYCLE,
    "provisioner": None,
    "connection": None,
}
DATA_META_BLOCKS: Mapping[str, Schema | None] = {"lifecycle": DATA_LIFECYCLE}
DYNAMIC_ARGUMENTS = frozenset({"for_each", "iterator", "labels"})


def is_block(value: Any) -> bool:
    """Whether a parsed value is one or more blocks (python-hcl2 marks them) rather than a value."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and v.get("__is_block__") for v in value)
    )


def _paths_with(schema: Schema, name: str, prefix: str = "") -> Iterator[str]:
    """Where in a type's schema ``name`` is an argument or block (for "did you mean" hints)."""
    if name in schema["arguments"] or name in schema["blocks"]:
        yield prefix or "the top level"
    for block_name, nested in schema["blocks"].items():
        yield from _paths_with(
            nested["block"], name, f"{prefix}{'.' if prefix else ''}{block_name}"
        )


class _Checker:
    def __init__(self, type_schema: Schema) -> None:
        self.type_schema = type_schema
        self.problems: list[Problem] = []

    def report(self, where: str, message: str) -> None:
        self.problems.append(Problem(where, message))

    def unknown(self, where: str, what: str, name: str) -> None:
        elsewhere = list(_paths_with(self.type_schema, name))
        hint = f" (it belongs in {', '.join(elsewhere)})" if elsewhere else ""
        self.report(where, f"unknown {what} {name!r}{hint}")

    def body(
        self,
        body: Mapping[str, Any],
        schema: Schema,
        where: str,
        meta_arguments: frozenset[str] = frozenset(),
        meta_blocks: Mapping[str, Schema | None] | None = None,
    ) -> None:
        """Check one block's body against its schema, nested blocks included."""
        meta_blocks = meta_blocks or {}
        seen: Counter[str] = Counter()  # literal nested blocks, by type
        generated: set[str] = set()  # types of the dynamic blocks
        for key, value in body.items():
            if key.startswith("__"):
                continue
            if key == "dynamic" and isinstance(value, list):
                # Labelled: [{'"label"': {body, __is_block__}}], the marker on the body.
                for entry in value:
                    for label, dynamic in entry.items():
                        if not label.startswith("__"):
                            generated.add(unquote(label))
                            self.dynamic(
                                unquote(label), dynamic, schema["blocks"], f"{where}.dynamic"
                            )
            elif key in meta_blocks:
                self.meta_block(key, value, meta_blocks[key], where)
            elif is_block(value):
                seen[key] += len(value)
                self.nested(key, value, schema, where)
            elif key not in meta_arguments:
                self.value(key, schema, where)
        self.required(body, schema, where, seen, generated)

    def meta_block(self, key: str, value: Any, schema: Schema | None, where: str) -> None:
        if schema is None:
            return  # accepted unchecked (a provisioner is labelled: no marker on the list)
        if not is_block(value):
            self.report(where, f"{key!r} is a block: write `{key} {{ ... }}`, not `{key} =`")
            return
        for nested in value:
            self.body(nested, schema, f"{where}.{key}")

    def nested(self, key: str, value: list[Any], schema: Schema, where: str) -> None:
        if key in schema["blocks"]:
            for nested in value:
                self.body(nested, schema["blocks"][key]["block"], f"{where}.{key}")
        elif key in schema["arguments"]:
            self.report(where, f"{key!r} is an argument: write `{key} = ...`, not a block")
        else:
            self.unknown(where, "block", key)

    def value(self, key: str, schema: Schema, where: str) -> None:
        if key in schema["arguments"]:
            return
        if key in schema["blocks"]:
            self.report(where, f"{key!r} is a block: write `{key} {{ ... }}`, not `{key} =`")
        elif key in schema["computed"]:
            self.report(where, f"{key!r} is computed by the provider and cannot be set")
        else:
            self.unknown(where, "argument", key)

    def required(
        self,
        body: Mapping[str, Any],
        schema: Schema,
        where: str,
        seen: Counter[str],
        generated: set[str],
    ) -> None:
        for name, spec in schema["arguments"].items():
            if spec["required"] and name not in body:
                self.report(where, f"required argument {name!r} is missing")
        for name, spec in schema["blocks"].items():
            if spec["required"] and not seen[name] and name not in generated:
                self.report(where, f"required block {name!r} is missing")
            if spec["nesting"] == "single" and seen[name] > 1:
                self.report(where, f"block {name!r} may appear once, found {seen[name]}")

    def dynamic(
        self, label: str, dynamic: Mapping[str, Any], blocks: Mapping[str, Any], where: str
    ) -> None:
        where = f"{where}.{label}"
        if label not in blocks:
            self.unknown(where, "block", label)
            return
        for key in dynamic:
            if not (key.startswith("__") or key == "content" or key in DYNAMIC_ARGUMENTS):
                self.report(where, f"unknown argument {key!r} of a dynamic block")
        if "for_each" not in dynamic:
            self.report(where, "a dynamic block needs for_each")
        contents = dynamic.get("content", [])
        if not is_block(contents) or len(contents) != 1:
            self.report(where, "a dynamic block needs exactly one content block")
            return
        self.body(contents[0], blocks[label]["block"], f"{where}.content")


def check_blocks(doc: Mapping[str, Any], schema: Mapping[str, Any], where: str) -> list[Problem]:
    """Problems of the resource, data and provider blocks of one parsed file."""
    problems: list[Problem] = []
    kinds = (
        ("resource", META_ARGUMENTS, RESOURCE_META_BLOCKS),
        ("data", META_ARGUMENTS, DATA_META_BLOCKS),
    )
    for kind, meta_arguments, meta_blocks in kinds:
        for rtype, name, body in labelled(doc, kind):
            address = f"{where}: {kind}.{rtype}.{name}"
            type_schema = schema[kind].get(rtype)
            if type_schema is None:
                problems.append(Problem(address, _unknown_type(kind, rtype, schema)))
                continue
            checker = _Checker(type_schema)
            checker.body(body, type_schema, address, meta_arguments, meta_blocks)
            problems += checker.problems
    for entry in doc.get("provider", []):
        for name, body in entry.items():
            if name.startswith("__"):
                continue
            address = f"{where}: provider.{unquote(name)}"
            type_schema = schema["provider"].get(unquote(name))
            if type_schema is None:
                problems.append(Problem(address, _unknown_type("provider", unquote(name), schema)))
                continue
            checker = _Checker(type_schema)
            checker.body(body, type_schema, address)
            problems += checker.problems
    return problems


def _unknown_type(kind: str, name: str, schema: Mapping[str, Any]) -> str:
    versions = ", ".join(f"{k} {v['version']}" for k, v in sorted(schema["providers"].items()))
    return (
        f"unknown {kind} type {name!r}: not in provider-schema.json ({versions}); a typo, "
        "or regenerate the file: python -m slotwork_local.tfschema --write"
    )


# ---------------------------------------------------------------------------
# References
# ---------------------------------------------------------------------------

# Blocks whose arguments are addresses, not references (the old address need not exist).
ADDRESS_BLOCKS = frozenset({"moved", "import", "removed"})
_INDEX = r"((?:\[[^\]]*\])*)"
_NAME = r"(?:\.([a-z_][a-z0-9_]*))?"


def _reference_pattern(providers: Iterable[str]) -> re.Pattern[str]:
    prefixes = "|".join(sorted(re.escape(p) for p in providers))
    return re.compile(
        rf"(?<![\w.])(data\.)?((?:{prefixes})_[a-z0-9_]+)\.([A-Za-z_][\w-]*){_INDEX}{_NAME}{_INDEX}{_NAME}"
    )


def _expressions(value: Any) -> Iterator[str]:
    """The expression text in a parsed value: whole expressions, and interpolations of literals."""
    if isinstance(value, str):
        if value.startswith("${"):
            yield value
        elif value.startswith('"'):
            yield from re.findall(r"\$\{(.*?)\}", value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _expressions(item)
    elif isinstance(value, list):
        for item in value:
            yield from _expressions(item)


def declared(docs: Mapping[str, Mapping[str, Any]]) -> set[tuple[str, str, str]]:
    """(kind, type, name) of every resource and data block of one module's files."""
    return {
        (kind, rtype, name)
        for doc in docs.values()
        for kind in ("resource", "data")
        for rtype, name, _ in labelled(doc, kind)
    }


def _attribute_problem(type_schema: Schema, attribute: str | None, sub: str | None) -> str | None:
    if attribute is None or attribute == "id":
        return None
    if attribute in type_schema["arguments"] or attribute in type_schema["computed"]:
        return None  # what follows indexes a value (a map key, a list element)
    nested = type_schema["blocks"].get(attribute)
    if nested is None:
        return f"has no attribute {attribute!r}"
    inner = nested["block"]
    if sub is None or sub in {*inner["arguments"], *inner["blocks"], *inner["computed"]}:
        return None
    return f"block {attribute!r} has no attribute {sub!r}"


def check_references(
    docs: Mapping[str, Mapping[str, Any]], schema: Mapping[str, Any]
) -> list[Problem]:
    """Problems of the resource and data references in one module's files (name -> parsed)."""
    pattern = _reference_pattern(schema["providers"])
    known = declared(docs)
    problems: list[Problem] = []
    for where, doc in docs.items():
        expressions = {kind: value for kind, value in doc.items() if kind not in ADDRESS_BLOCKS}
        for text in _expressions(expressions):
            for m in pattern.finditer(text):
                kind = "data" if m.group(1) else "resource"
                rtype, name, attribute, sub = m.group(2), m.group(3), m.group(5), m.group(7)
                address = f"{'data.' if m.group(1) else ''}{rtype}.{name}"
                if (kind, rtype, name) not in known:
                    problems.append(Problem(where, f"reference to undeclared {kind} {address}"))
                    continue
                type_schema = schema[kind].get(rtype)
                issue = type_schema and _attribute_problem(type_schema, attribute, sub)
                if issue:
                    problems.append(Problem(where, f"{m.group(0)}: {kind} type {rtype} {issue}"))
    return problems
