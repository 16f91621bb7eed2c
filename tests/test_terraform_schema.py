"""Every block of terraform/ is checked against the providers' real schema.

``terraform validate`` cannot run here (no provider registry), so
terraform/provider-schema.json holds the schema of every resource, data
source and provider the configurations use, extracted from the providers'
CDK for Terraform packages on PyPI (``python -m slotwork_local.tfschema``),
and slotwork_local.tfcheck does what validate would decide from it. The
last part of this file feeds deliberate mistakes through the checker to show
each kind is caught.
"""

from __future__ import annotations

import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest

from slotwork_local import tfschema
from slotwork_local.tfcheck import Problem, check_blocks, check_references

TF_ROOT = tfschema.TF_ROOT


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(tfschema.SCHEMA_FILE.read_text(encoding="utf-8"))
    return loaded


@cache
def configurations() -> dict[str, dict[str, dict[str, Any]]]:
    """Parsed .tf files grouped by configuration (a directory: module, root, example)."""
    grouped: dict[str, dict[str, dict[str, Any]]] = {}
    for path in tfschema.tf_files():
        directory = str(path.parent.relative_to(TF_ROOT)) or "."
        grouped.setdefault(directory, {})[str(path.relative_to(TF_ROOT))] = tfschema.read_tf(path)
    return grouped


def test_every_configuration_is_checked() -> None:
    assert set(configurations()) == {".", "modules/slotwork", "examples/minimal", "examples/full"}


@pytest.mark.parametrize("directory", sorted(configurations()))
def test_every_block_matches_the_provider_schema(directory: str) -> None:
    problems = [
        problem
        for where, doc in configurations()[directory].items()
        for problem in check_blocks(doc, schema(), where)
    ]
    assert not problems, "\n".join(map(str, problems))


@pytest.mark.parametrize("directory", sorted(configurations()))
def test_every_reference_names_a_declared_block_and_an_attribute_its_type_has(
    directory: str,
) -> None:
    problems = check_references(configurations()[directory], schema())
    assert not problems, "\n".join(map(str, problems))


def test_the_schema_file_holds_exactly_the_types_the_configurations_use() -> None:
    used = tfschema.used_types(tfschema.tf_files())
    assert used["resource"] and used["data"] and used["provider"]
    for kind in tfschema.KINDS:
        assert set(schema()[kind]) == used[kind], (
            f"{kind}: regenerate the schema (python -m slotwork_local.tfschema --write)"
        )


def _required_providers() -> dict[str, list[dict[str, str]]]:
    found: dict[str, list[dict[str, str]]] = {}
    for path in tfschema.tf_files():
        for block in tfschema.read_tf(path).get("terraform", []):
            for entry in block.get("required_providers", []):
                for name, spec in entry.items():
                    if not name.startswith("__"):
                        found.setdefault(name, []).append(spec)
    return found


def test_versions_tf_pins_the_provider_releases_the_schema_comes_from() -> None:
    providers = schema()["providers"]
    required = _required_providers()
    assert set(required) == set(providers)
    for name, specs in required.items():
        major, minor, _ = providers[name]["version"].split(".")
        for spec in specs:
            assert tfschema.unquote(spec["version"]) == f"~> {major}.{minor}", (name, spec)
            source = tfschema.unquote(spec["source"])
            assert providers[name]["source"] == f"registry.terraform.io/{source}"
        assert providers[name]["extracted_from"] in {p.spec for p in tfschema.PACKAGES}


@pytest.mark.skipif(
    os.environ.get("SLOTWORK_TF_SCHEMA_CHECK") != "1",
    reason="downloads the cdktf provider packages from PyPI; SLOTWORK_TF_SCHEMA_CHECK=1 runs it",
)
def test_regenerating_the_schema_from_the_packages_gives_the_committed_file() -> None:
    assert tfschema.generate() == tfschema.SCHEMA_FILE.read_text(encoding="utf-8")


# ---------------------------------------------------------------------------
# The checker has teeth: one deliberate mistake of each kind
# ---------------------------------------------------------------------------

FUNCTION = """
resource "google_cloudfunctions2_function" "f" {
  location = "europe-west1"
  name     = "f"
  build_config {
    runtime     = "python311"
    entry_point = "run"
    source {
      storage_source {
        bucket = "b"
        object = "o"
      }
    }
  }
  service_config {
    available_memory = "256Mi"
  }
%s
}
"""


def problems_of(text: str) -> list[str]:
    doc = hcl2.loads(text)
    found: list[Problem] = check_blocks(doc, schema(), "x.tf")
    found += check_references({"x.tf": doc}, schema())
    return [str(p) for p in found]


def test_a_correct_block_with_every_meta_argument_has_no_problem() -> None:
    text = (
        FUNCTION
        % """
  count      = 1
  depends_on = [google_service_account.a]
  provider   = google
  labels     = { app = "x" }
  dynamic "timeouts" {
    for_each = [1]
    iterator = t
    content {
      create = "10m"
    }
  }
  provisioner "local-exec" {
    command = "true"
  }
  lifecycle {
    create_before_destroy = true
    ignore_changes        = [labels]
    precondition {
      condition     = true
      error_message = "never"
    }
  }
"""
        + """
resource "google_service_account" "a" {
  account_id = "a-account"
  for_each   = toset(["x"])
}
output "url" {
  value = google_cloudfunctions2_function.f[0].service_config[0].uri
}
data "archive_file" "z" {
  type        = "zip"
  output_path = "z.zip"
  source_dir  = "."
}
output "md5" {
  value = data.archive_file.z.output_md5
}
"""
    )
    assert problems_of(text) == []


MISTAKES = {
    "unknown resource type": (
        'resource "google_cloudfunction2_function" "f" {}',
        r"unknown resource type 'google_cloudfunction2_function'",
    ),
    "unknown data source type": (
        'data "archive_files" "z" {}',
        r"unknown data type 'archive_files'",
    ),
    "unknown provider": ('provider "googel" {}', r"unknown provider type 'googel'"),
    "unknown provider argument": (
        'provider "google" {\n  projekt = "p"\n}',
        r"provider\.google: unknown argument 'projekt'",
    ),
    "unknown argument": (FUNCTION % "  lables = {}", r"unknown argument 'lables'"),
    "unknown nested block": (
        FUNCTION % "  event_triger {\n  }",
        r"unknown block 'event_triger'",
    ),
    "required argument missing": (
        'resource "google_service_account" "a" {\n  display_name = "a"\n}',
        r"google_service_account\.a: required argument 'account_id' is missing",
    ),
    "required block missing": (
        'resource "google_firestore_index" "i" {\n  collection = "work"\n}',
        r"required block 'fields' is missing",
    ),
    "argument in the wrong block": (
        FUNCTION.replace('    available_memory = "256Mi"', '    runtime = "python311"') % "",
        r"service_config: unknown argument 'runtime' \(it belongs in build_config\)",
    ),
    "argument one block too high": (
        FUNCTION.replace(
            "      storage_source {\n        bucket",
            '      bucket = "b"\n      storage_source {\n        generation = 1\n        bucket',
        )
        % "",
        r"build_config\.source: unknown argument 'bucket' \(it belongs in "
        r"build_config\.source\.storage_source\)",
    ),
    "block written as an argument": (
        FUNCTION % "  event_trigger = {}",
        r"'event_trigger' is a block: write `event_trigger \{ \.\.\. \}`",
    ),
    "argument written as a block": (
        FUNCTION % '  labels {\n    app = "x"\n  }',
        r"'labels' is an argument: write `labels = \.\.\.`",
    ),
    "single block twice": (
        FUNCTION % "  service_config {\n  }",
        r"block 'service_config' may appear once, found 2",
    ),
    "computed attribute set": (FUNCTION % '  url = "https://x"', r"'url' is computed"),
    "dynamic block of an unknown type": (
        FUNCTION % '  dynamic "timeoutz" {\n    for_each = []\n    content {\n    }\n  }',
        r"dynamic\.timeoutz: unknown block 'timeoutz'",
    ),
    "unknown argument in dynamic content": (
        FUNCTION % '  dynamic "timeouts" {\n    for_each = [1]\n    content {\n'
        '      craete = "1m"\n    }\n  }',
        r"dynamic\.timeouts\.content: unknown argument 'craete'",
    ),
    "dynamic block without for_each": (
        FUNCTION % '  dynamic "timeouts" {\n    content {\n    }\n  }',
        r"a dynamic block needs for_each",
    ),
    "unknown lifecycle argument": (
        FUNCTION % "  lifecycle {\n    prevent_destroi = true\n  }",
        r"lifecycle: unknown argument 'prevent_destroi'",
    ),
    "lifecycle written as an argument": (
        FUNCTION % "  lifecycle = {}",
        r"'lifecycle' is a block: write `lifecycle \{ \.\.\. \}`",
    ),
    "meta-argument inside a nested block": (
        FUNCTION.replace('    available_memory = "256Mi"', "    count = 2") % "",
        r"service_config: unknown argument 'count'",
    ),
    "precondition without error_message": (
        FUNCTION % "  lifecycle {\n    precondition {\n      condition = true\n    }\n  }",
        r"lifecycle\.precondition: required argument 'error_message' is missing",
    ),
    "data source with a resource-only lifecycle argument": (
        'data "archive_file" "z" {\n  type = "zip"\n  output_path = "z"\n'
        "  lifecycle {\n    prevent_destroy = true\n  }\n}",
        r"data\.archive_file\.z\.lifecycle: unknown argument 'prevent_destroy'",
    ),
    "reference to an undeclared resource": (
        FUNCTION % "  description = google_service_account.nobody.email",
        r"reference to undeclared resource google_service_account\.nobody",
    ),
    "reference to an attribute the type lacks": (
        FUNCTION % "  description = google_cloudfunctions2_function.f.uri",
        r"google_cloudfunctions2_function has no attribute 'uri'",
    ),
    "reference to an attribute a nested block lacks": (
        FUNCTION % "  description = google_cloudfunctions2_function.f.service_config[0].url",
        r"block 'service_config' has no attribute 'url'",
    ),
}


@pytest.mark.parametrize("kind", sorted(MISTAKES))
def test_the_checker_reports_a_mistake_of_each_kind(kind: str) -> None:
    text, expected = MISTAKES[kind]
    problems = problems_of(text)
    assert any(re.search(expected, p) for p in problems), f"{kind}: not reported in {problems}"
    assert len(problems) == 1, f"{kind}: one mistake, one problem: {problems}"


def test_a_required_block_generated_by_a_dynamic_block_counts_as_present() -> None:
    text = """
resource "google_firestore_index" "i" {
  collection = "work"
  dynamic "fields" {
    for_each = ["list", "done_slot"]
    content {
      field_path = fields.value
      order      = "ASCENDING"
    }
  }
}
"""
    assert problems_of(text) == []


def test_checked_files_parse_with_block_markers() -> None:
    # The checker tells blocks from values by python-hcl2's __is_block__ marker.
    doc = tfschema.read_tf(Path(TF_ROOT / "modules" / "slotwork" / "main.tf"))
    bodies = [body for _, _, body in tfschema.labelled(doc, "resource")]
    assert bodies and all(body.get("__is_block__") is True for body in bodies)
