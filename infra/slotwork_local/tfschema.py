"""The provider schema of the resource and data types slotwork's Terraform uses.

``terraform validate`` needs the provider registry, which these machines and
CI cannot reach. The same schemas are published on PyPI inside the CDK for
Terraform bindings of each provider: the jsii assembly of
``cdktf-cdktf-provider-google`` (and ``-archive``) lists every resource's and
data source's arguments and nested blocks, which are required, and whether a
block may appear once or many times; the generated JavaScript names the
attributes the provider computes. This module extracts exactly the types
``terraform/`` uses into ``terraform/provider-schema.json``:

    python -m slotwork_local.tfschema --write   # download the packages, write the file
    python -m slotwork_local.tfschema --check   # regenerate and compare (needs PyPI)

The tests read the committed file (``slotwork_local.tfcheck`` checks every
block against it), so they need no network.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
TF_ROOT = ROOT / "terraform"
SCHEMA_FILE = TF_ROOT / "provider-schema.json"
# Block kinds the schema covers: resources, data sources, provider configurations.
KINDS = ("resource", "data", "provider")


@dataclass(frozen=True)
class Package:
    """A PyPI package carrying one provider's schema (the provider version is read from it)."""

    provider: str  # local name in required_providers
    name: str
    version: str

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}"


# The last prebuilt bindings published (cdktf stopped publishing them in
# December 2025): hashicorp/google 6.50.0 and hashicorp/archive 2.7.1.
# versions.tf pins the providers to these minor versions.
PACKAGES = (
    Package("google", "cdktf-cdktf-provider-google", "16.12.1"),
    Package("archive", "cdktf-cdktf-provider-archive", "11.0.1"),
)


class SchemaError(RuntimeError):
    """The packages do not hold what the configuration uses, or are not shaped as expected."""


# ---------------------------------------------------------------------------
# What the configuration uses
# ---------------------------------------------------------------------------


def tf_files(root: Path = TF_ROOT) -> list[Path]:
    """Every .tf file under ``root`` (module, examples, root), skipping Terraform's own caches."""
    return sorted(p for p in root.rglob("*.tf") if ".terraform" not in p.parts)


def unquote(text: str) -> str:
    """A label as written, without the quotes python-hcl2 keeps around it."""
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def read_tf(path: Path) -> dict[str, Any]:
    """One .tf file parsed by python-hcl2 (blocks keep their ``__is_block__`` marker)."""
    import hcl2  # a dev dependency: only the tests and this command read HCL

    with path.open(encoding="utf-8") as fh:
        doc: dict[str, Any] = hcl2.load(fh)
    return doc


def labelled(doc: Mapping[str, Any], kind: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(type, name, body) of every ``kind "type" "name" {}`` block of a parsed file."""
    for entry in doc.get(kind, []):
        for rtype, named in entry.items():
            if rtype.startswith("__"):
                continue
            for name, body in named.items():
                if not name.startswith("__"):
                    yield unquote(rtype), unquote(name), body


def used_types(paths: Iterable[Path]) -> dict[str, set[str]]:
    """The resource types, data source types and configured providers the files use."""
    used: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for path in paths:
        doc = read_tf(path)
        for kind in ("resource", "data"):
            used[kind].update(rtype for rtype, _, _ in labelled(doc, kind))
        for entry in doc.get("provider", []):
            used["provider"].update(unquote(k) for k in entry if not k.startswith("__"))
    return used


def provider_of(type_name: str) -> str:
    """The provider of a resource or data type: its first word, as Terraform infers it."""
    return type_name.split("_", 1)[0]


# ---------------------------------------------------------------------------
# Reading a cdktf package
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Assembly:
    """A provider package's jsii assembly and generated JavaScript, by module directory."""

    provider_source: str
    provider_version: str
    types: Mapping[str, Any]
    javascript: Mapping[str, str]  # "lib/<module>/index.js" -> source


def load_wheel(wheel: Path) -> Assembly:
    """Read the assembly tarball a cdktf wheel carries (``<pkg>/_jsii/*.jsii.tgz``)."""
    with zipfile.ZipFile(wheel) as zf:
        tgz = [n for n in zf.namelist() if "/_jsii/" in n and n.endswith(".jsii.tgz")]
        if len(tgz) != 1:
            raise SchemaError(f"{wheel.name}: expected one jsii tarball, found {tgz}")
        data = zf.read(tgz[0])
    javascript: dict[str, str] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        package = json.load(_member(tar, "package/package.json"))
        assembly = json.load(_member(tar, "package/.jsii"))
        for member in tar.getmembers():
            if member.name.startswith("package/lib/") and member.name.endswith("/index.js"):
                javascript[member.name.removeprefix("package/")] = (
                    _member(tar, member.name).read().decode("utf-8")
                )
    provider = package.get("cdktf", {}).get("provider", {})
    if not provider.get("name") or not provider.get("version"):
        raise SchemaError(f"{wheel.name}: package.json names no provider and version")
    return Assembly(provider["name"], provider["version"], assembly["types"], javascript)


def _member(tar: tarfile.TarFile, name: str) -> IO[bytes]:
    handle = tar.extractfile(name)
    if handle is None:
        raise SchemaError(f"{name} is missing from the jsii tarball")
    return handle


_LINK = re.compile(r"\{@link (\S+) (\w+)\}")
_DOC_NAME = re.compile(r"\{@link \S+#(\w+) \w+#\1\}")
_READ = re.compile(
    r"get \w+\(\) \{\s*return this\.(?:get\w*Attribute|interpolationForAttribute)\('(\w+)'\)"
)
_COMPUTED_BLOCK = re.compile(r"new [\w.]+\(this, \"(\w+)\"")
_BASES = {
    "cdktf.TerraformResource": "resource",
    "cdktf.TerraformDataSource": "data",
    "cdktf.TerraformProvider": "provider",
}


def _classes(assembly: Assembly) -> dict[tuple[str, str], dict[str, Any]]:
    """(kind, Terraform type name) -> jsii class, for every resource, data source and provider."""
    found = {}
    for spec in assembly.types.values():
        kind = _BASES.get(spec.get("base", ""))
        if kind and spec["kind"] == "class":
            link = _LINK.search(spec["docs"]["summary"])
            if link is None:
                raise SchemaError(f"{spec['fqn']}: no registry link naming its Terraform type")
            found[(kind, link.group(2))] = spec
    return found


def _arg_name(prop: Mapping[str, Any]) -> str:
    docs = prop.get("docs", {})
    m = _DOC_NAME.search(docs.get("remarks", "") + " " + docs.get("summary", ""))
    if m is None:
        raise SchemaError(f"property {prop['name']}: no registry anchor naming its argument")
    return str(m.group(1))


def _type_name(spec: Mapping[str, Any]) -> str:
    """A jsii type as a Terraform type: string, number, bool, list(...), map(...)."""
    if "primitive" in spec:
        primitive = str(spec["primitive"])
        return "bool" if primitive == "boolean" else primitive
    if "collection" in spec:
        kind = {"array": "list"}.get(spec["collection"]["kind"], spec["collection"]["kind"])
        return f"{kind}({_type_name(spec['collection']['elementtype'])})"
    if "union" in spec:  # cdktf adds IResolvable (a token) beside the real type
        real = [t for t in spec["union"]["types"] if t.get("fqn") != "cdktf.IResolvable"]
        if len(real) == 1:
            return _type_name(real[0])
    raise SchemaError(f"unexpected jsii type {spec}")


def _block_of(spec: Mapping[str, Any]) -> tuple[str, str] | None:
    """(nesting, fqn) when a property is a nested block: single (at most one) or list."""
    if spec.get("fqn", "").startswith("@cdktf/provider-"):
        return "single", spec["fqn"]
    for member in spec.get("union", {}).get("types", []):
        element = member.get("collection", {}).get("elementtype", {})
        if element.get("fqn", "").startswith("@cdktf/provider-"):
            return "list", element["fqn"]
    return None


def _class_source(javascript: str, class_name: str) -> str:
    start = javascript.find(f"\nclass {class_name} extends ")
    if start < 0:
        return ""
    end = javascript.find(f"\nexports.{class_name} = {class_name};", start)
    return javascript[start : end if end > 0 else len(javascript)]


def _block_schema(
    assembly: Assembly, interface_fqn: str, javascript: str, class_name: str
) -> dict[str, Any]:
    arguments: dict[str, Any] = {}
    blocks: dict[str, Any] = {}
    for prop in assembly.types[interface_fqn].get("properties", []):
        name, required = _arg_name(prop), not prop.get("optional", False)
        nested = _block_of(prop["type"])
        if nested is None:
            arguments[name] = {"type": _type_name(prop["type"]), "required": required}
            continue
        nesting, fqn = nested
        inner = assembly.types[fqn]["name"]
        blocks[name] = {
            "nesting": nesting,
            "required": required,
            "block": _block_schema(assembly, fqn, javascript, f"{inner}OutputReference"),
        }
    source = _class_source(javascript, class_name)
    readable = set(_READ.findall(source)) | set(_COMPUTED_BLOCK.findall(source))
    return {
        "arguments": dict(sorted(arguments.items())),
        "blocks": dict(sorted(blocks.items())),
        "computed": sorted(readable - set(arguments) - set(blocks)),
    }


def type_schema(assembly: Assembly, kind: str, type_name: str) -> dict[str, Any]:
    """The schema of one resource, data source or provider configuration."""
    spec = _classes(assembly).get((kind, type_name))
    if spec is None:
        raise SchemaError(
            f"{kind} type {type_name!r} does not exist in {assembly.provider_source} "
            f"{assembly.provider_version}"
        )
    module = spec["locationInModule"]["filename"]  # src/<module>/index.ts
    javascript = assembly.javascript.get(
        module.replace("src/", "lib/", 1).removesuffix(".ts") + ".js", ""
    )
    return _block_schema(assembly, spec["fqn"] + "Config", javascript, spec["name"])


def build_schema(
    assemblies: Mapping[str, Assembly], used: Mapping[str, set[str]]
) -> dict[str, Any]:
    """The committed file's content: provider versions and the schema of every used type."""
    schema: dict[str, Any] = {
        "generated_by": "python -m slotwork_local.tfschema --write (do not edit)",
        "providers": {},
    }
    for local_name, pkg in sorted(assemblies.items()):
        schema["providers"][local_name] = {
            "source": pkg.provider_source,
            "version": pkg.provider_version,
            "extracted_from": next(p.spec for p in PACKAGES if p.provider == local_name),
        }
    for kind in KINDS:
        schema[kind] = {}
        for type_name in sorted(used[kind]):
            provider = type_name if kind == "provider" else provider_of(type_name)
            if provider not in assemblies:
                raise SchemaError(f"{kind} {type_name}: no schema package for provider {provider}")
            schema[kind][type_name] = type_schema(assemblies[provider], kind, type_name)
    return schema


def render(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema, indent=1) + "\n"


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def download(dest: Path) -> dict[str, Path]:
    """pip-download every package (no dependencies) into ``dest``; provider -> wheel."""
    wheels = {}
    for pkg in PACKAGES:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet"]
        subprocess.run([*command, "--dest", str(dest), pkg.spec], check=True)
        prefix = pkg.name.replace("-", "_") + f"-{pkg.version}-"
        found = [w for w in dest.glob("*.whl") if w.name.startswith(prefix)]
        if len(found) != 1:
            raise SchemaError(f"pip download {pkg.spec} left {found} in {dest}")
        wheels[pkg.provider] = found[0]
    return wheels


def generate(wheel_dir: Path | None = None) -> str:
    """The schema file's text, from wheels in ``wheel_dir`` or freshly downloaded ones."""
    with tempfile.TemporaryDirectory() as tmp:
        wheels = _local(wheel_dir) if wheel_dir else download(Path(tmp))
        assemblies = {provider: load_wheel(path) for provider, path in wheels.items()}
        return render(build_schema(assemblies, used_types(tf_files())))


def _local(wheel_dir: Path) -> dict[str, Path]:
    wheels = {}
    for pkg in PACKAGES:
        path = wheel_dir / f"{pkg.name.replace('-', '_')}-{pkg.version}-py3-none-any.whl"
        if not path.is_file():
            raise SchemaError(f"{path} not found (pip download --no-deps {pkg.spec})")
        wheels[pkg.provider] = path
    return wheels


def main(argv: list[str] | None = None) -> int:
    """--write the schema file, or --check that the committed one is current."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help=f"write {SCHEMA_FILE.name}")
    mode.add_argument("--check", action="store_true", help="fail if regenerating changes it")
    parser.add_argument(
        "--wheels", type=Path, help="read the wheels from this folder instead of downloading"
    )
    args = parser.parse_args(argv)
    text = generate(args.wheels)
    if args.write:
        SCHEMA_FILE.write_text(text, encoding="utf-8")
        return 0
    if not SCHEMA_FILE.is_file() or SCHEMA_FILE.read_text(encoding="utf-8") != text:
        print(
            f"{SCHEMA_FILE} is stale: run python -m slotwork_local.tfschema --write",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
