"""The Terraform deployment (terraform/) agrees with the code (functions/).

The module (terraform/modules/slotwork) is checked against the code: entry
points, environment, job names, indexes, IAM, deadlines. The repository's own
root (terraform/) and the examples are checked as callers of the module.
Offline: the HCL is parsed with python-hcl2, nothing talks to a provider or
to Firestore. `terraform fmt -check` and checkov run separately in CI;
tests/test_terraform_schema.py checks every block against the provider schema.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import sys
from collections import Counter
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hcl2.api import load as hcl_load
from hcl2.api import loads as hcl_loads

from slotwork.config import DEFAULT_LEASE_SECONDS, DEFAULT_MIN_FREQUENCY_SECONDS, ENV_VARS
from slotwork.engine import EngineConfig
from slotwork.indexes import COMPOSITE_INDEXES
from slotwork_local.jobs import MAX_SHARDS, JobsFileError, load_jobs, parse_jobs
from slotwork_local.jobs import job_id as local_job_id

REPO = Path(__file__).resolve().parents[1]
TF_DIR = REPO / "terraform"
MODULE_DIR = TF_DIR / "modules" / "slotwork"
EXAMPLE_DIRS = (TF_DIR / "examples" / "minimal", TF_DIR / "examples" / "full")
# Every configuration that calls the module: the repository's root and the examples.
CALLER_DIRS = (TF_DIR, *EXAMPLE_DIRS)
FUNCTIONS_DIR = REPO / "functions"
PROCESSES_FILE = TF_DIR / "processes.auto.tfvars.json"

# The job id the engine runs on continuation and :run (DESIGN: `slotwork-P`).
JOB_ID_PREFIX = "slotwork-"
# Only the local scheduler stand-in sets this; in the cloud it must stay unset.
LOCAL_ONLY_ENV_VARS = {"SLOTWORK_SCHEDULER_ENDPOINT"}
PUBLIC_MEMBERS = {"allUsers", "allAuthenticatedUsers"}
# Settings the deployment passes since issues 12 and 13 (the engine and API
# read them); slotwork.config.ENV_VARS must list each.
NEW_ENV_VARS = (
    "SLOTWORK_SHARDS",
    "SLOTWORK_DATABASE",
    "SLOTWORK_API_WRITERS",
    "SLOTWORK_API_AUTH",
    "SLOTWORK_TRUST_IAP",
    "SLOTWORK_TTL_SWEEPER_COLLECTIONS",
)
HTTP_ATTEMPT_DEADLINE_LIMIT = 1800  # Cloud Scheduler: 30 min at most for HTTP targets


# ---------------------------------------------------------------------------
# Reading the HCL
#
# Two parsers answer to `import hcl2`: python-hcl2 (strings keep their
# quotes, block markers) and checkov's bc-python-hcl2 (every attribute value
# wrapped in a one-element list). `_clean` removes quotes and markers; `attr`
# unwraps attribute values when the parser wraps them. Blocks are lists of
# dicts in both.
# ---------------------------------------------------------------------------


@cache
def _wraps_attributes() -> bool:
    return isinstance(hcl_loads('probe = "x"\n')["probe"], list)


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('\\"', '"')
    return text


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            _unquote(k): _clean(v)
            for k, v in value.items()
            if not re.fullmatch(r"__\w+__", _unquote(k))
        }
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str):
        return _unquote(value)
    return value


_MISSING = object()


def attr(body: dict[str, Any], name: str, default: Any = _MISSING) -> Any:
    """The value of attribute ``name`` of a block body."""
    if name not in body:
        if default is _MISSING:
            raise KeyError(f"attribute {name!r} not set (has {sorted(body)})")
        return default
    value = body[name]
    if _wraps_attributes():
        assert isinstance(value, list) and len(value) == 1, (name, value)
        return value[0]
    return value


def blocks(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The nested blocks ``name`` of a block body (possibly none)."""
    found = body.get(name, [])
    assert isinstance(found, list), (name, found)
    return found


def block(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The one nested block ``name`` of a block body."""
    found = blocks(body, name)
    assert len(found) == 1, f"expected one {name} block, found {len(found)}"
    return found[0]


@cache
def _files(directory: Path = MODULE_DIR) -> dict[str, dict[str, Any]]:
    """The parsed .tf files of one configuration (the module by default), by file name."""
    parsed = {}
    for path in sorted(directory.glob("*.tf")):
        with path.open() as fh:
            parsed[path.name] = _clean(hcl_load(fh))
    assert parsed, f"no .tf files in {directory}"
    return parsed


def _all_files() -> dict[str, dict[str, Any]]:
    """Every parsed .tf file of the module and its callers, by path below terraform/."""
    return {
        f"{directory.relative_to(TF_DIR)}/{name}": doc
        for directory in (MODULE_DIR, *CALLER_DIRS)
        for name, doc in _files(directory).items()
    }


def _top(kind: str, directory: Path = MODULE_DIR) -> Iterator[dict[str, Any]]:
    for doc in _files(directory).values():
        yield from doc.get(kind, [])


@cache
def resources() -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for entry in _top("resource"):
        for rtype, named in entry.items():
            for rname, body in named.items():
                found[(rtype, rname)] = body
    return found


def resources_of(rtype: str) -> dict[str, dict[str, Any]]:
    return {name: body for (kind, name), body in resources().items() if kind == rtype}


def resource(rtype: str, name: str) -> dict[str, Any]:
    assert (rtype, name) in resources(), f"{rtype}.{name} is not defined in terraform/"
    return resources()[(rtype, name)]


@cache
def variables(directory: Path = MODULE_DIR) -> dict[str, dict[str, Any]]:
    return {name: body for entry in _top("variable", directory) for name, body in entry.items()}


@cache
def outputs(directory: Path = MODULE_DIR) -> dict[str, dict[str, Any]]:
    return {name: body for entry in _top("output", directory) for name, body in entry.items()}


@cache
def module_call(directory: Path) -> dict[str, Any]:
    """The arguments of the one `module "slotwork"` block of a caller."""
    calls = [entry["slotwork"] for entry in _top("module", directory) if "slotwork" in entry]
    assert len(calls) == 1, f'{directory}: expected one module "slotwork" block'
    return {name: attr(calls[0], name) for name in calls[0]}


@cache
def locals_() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for entry in _top("locals"):
        for name in entry:
            assert name not in found, f"local.{name} defined twice"
            found[name] = attr(entry, name)
    return found


def resolve(value: Any) -> Any:
    """Follow a bare ``${local.x}`` reference to the local's expression."""
    while isinstance(value, str) and (m := re.fullmatch(r"\$\{local\.(\w+)\}", value)):
        value = locals_()[m.group(1)]
    return value


def expr(value: Any) -> str:
    """An attribute value as one string, for checks on references."""
    return value if isinstance(value, str) else json.dumps(value)


def variable_default(name: str) -> Any:
    return attr(variables()[name], "default")


def _optional_defaults(type_expr: str) -> dict[str, Any]:
    """``attr = optional(type, default)`` pairs of an object type expression."""
    defaults: dict[str, Any] = {}
    pattern = r"(\w+)['\"]?\s*[:=]\s*['\"]?\$?\{?optional\((\w+),\s*([^)]+)\)"
    for m in re.finditer(pattern, type_expr):
        raw = m.group(3).strip().strip("'\"")
        defaults[m.group(1)] = int(raw) if raw.isdigit() else raw
    return defaults


@cache
def run_function_settings() -> dict[str, Any]:
    """The run function's settings as deployed: the optional() defaults of
    var.run_function overridden by its default value (no tfvars set it)."""
    body = variables()["run_function"]
    settings = _optional_defaults(expr(attr(body, "type")))
    settings.update(attr(body, "default") or {})
    return settings


@cache
def processes_file() -> dict[str, dict[str, Any]]:
    data = json.loads(PROCESSES_FILE.read_text())
    assert set(data) == {"processes"}, "processes.auto.tfvars.json holds only `processes`"
    processes = data["processes"]
    assert isinstance(processes, dict)
    return processes


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _code_processes() -> list[Any]:
    if str(FUNCTIONS_DIR) not in sys.path:
        sys.path.insert(0, str(FUNCTIONS_DIR))
    module = importlib.import_module("processes")
    assert Path(module.__file__ or "").resolve().parent == FUNCTIONS_DIR, module.__file__
    return list(module.PROCESSES)


# ---------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------

FUNCTIONS = ("run", "api")


def test_the_two_functions_are_defined_with_the_contract_entry_points() -> None:
    functions = resources_of("google_cloudfunctions2_function")
    assert set(functions) == set(FUNCTIONS)
    for name, body in functions.items():
        assert attr(block(body, "build_config"), "entry_point") == name


def test_every_entry_point_is_a_top_level_function_of_main_py() -> None:
    tree = ast.parse((FUNCTIONS_DIR / "main.py").read_text())
    defined = {
        node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    for name, body in resources_of("google_cloudfunctions2_function").items():
        entry_point = attr(block(body, "build_config"), "entry_point")
        assert entry_point in defined, (
            f"function {name}: entry_point {entry_point!r} is not a top-level function of "
            f"functions/main.py (it defines {sorted(defined)})"
        )


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_sets_every_env_var_the_engine_reads(function: str) -> None:
    service = block(resource("google_cloudfunctions2_function", function), "service_config")
    env = resolve(attr(service, "environment_variables"))
    assert isinstance(env, dict), f"environment_variables must be a map literal, got {env!r}"
    expected = set(ENV_VARS) - LOCAL_ONLY_ENV_VARS
    assert expected <= set(env), f"not set: {sorted(expected - set(env))}"
    assert not LOCAL_ONLY_ENV_VARS & set(env), (
        "SLOTWORK_SCHEDULER_ENDPOINT is for the local stand-in only"
    )
    assert set(env) <= set(ENV_VARS), f"not read by the engine: {sorted(set(env) - set(ENV_VARS))}"


def test_the_new_settings_are_engine_configuration() -> None:
    missing = [name for name in NEW_ENV_VARS if name not in ENV_VARS]
    assert not missing, f"not in slotwork.config.ENV_VARS: {missing}"


def test_env_values_are_wired_to_the_inputs() -> None:
    env = resolve(
        attr(
            block(resource("google_cloudfunctions2_function", "run"), "service_config"),
            "environment_variables",
        )
    )
    assert env["SLOTWORK_PROCESSES"] == "${var.processes_module}"
    assert env["GOOGLE_CLOUD_PROJECT"] == "${var.project_id}"
    assert env["SLOTWORK_COLLECTION"] == "${var.collection}"
    assert env["SLOTWORK_DATABASE"] == "${var.firestore_database}"
    assert "var.run_function.engine_deadline_seconds" in env["SLOTWORK_DEADLINE_SECONDS"]
    assert "var.lease_seconds" in env["SLOTWORK_LEASE_SECONDS"]
    assert "var.min_frequency_seconds" in env["SLOTWORK_MIN_FREQUENCY_SECONDS"]
    assert "var.checkpoint.items" in env["SLOTWORK_CHECKPOINT_ITEMS"]
    assert "var.checkpoint.seconds" in env["SLOTWORK_CHECKPOINT_SECONDS"]
    assert (
        resolve(env["SLOTWORK_SCHEDULER_PARENT"])
        == "projects/${var.project_id}/locations/${var.region}"
    )
    shards = re.sub(r"\s", "", env["SLOTWORK_SHARDS"])
    assert shards == "${jsonencode({forname,pinvar.processes:name=>p.shards})}", shards
    assert env["SLOTWORK_API_AUTH"] == "verified"
    assert env["SLOTWORK_API_WRITERS"] == '${join(",", local.api_writer_emails)}'
    assert locals_()["api_writer_emails"] == (
        '${sort([for member in local.api_writers : split(":", member)[1]])}'
    )
    assert env["SLOTWORK_TRUST_IAP"] == '${var.iap_enabled ? "true" : "false"}'
    assert variable_default("iap_enabled") is False
    assert env["SLOTWORK_TTL_SWEEPER_COLLECTIONS"] == '${join(",", var.ttl_sweeper_collections)}'
    assert variable_default("ttl_sweeper_collections") == []
    api_env = attr(
        block(resource("google_cloudfunctions2_function", "api"), "service_config"),
        "environment_variables",
    )
    assert resolve(api_env) == env, "both functions read the same configuration"


def test_each_function_runs_as_its_own_service_account_with_the_hashed_source() -> None:
    source_object = resource("google_storage_bucket_object", "source")
    assert "data.archive_file.functions.output_" in attr(source_object, "name"), (
        "the zip is named after its hash"
    )
    archive = _top_data("archive_file", "functions")
    assert attr(archive, "source_dir") == "${var.source_dir}"
    for name in FUNCTIONS:
        body = resource("google_cloudfunctions2_function", name)
        storage = block(block(block(body, "build_config"), "source"), "storage_source")
        assert attr(storage, "object") == "${google_storage_bucket_object.source.name}"
        service = block(body, "service_config")
        assert attr(service, "service_account_email") == f"${{google_service_account.{name}.email}}"
        assert attr(service, "ingress_settings")
    accounts = {
        attr(body, "account_id") for body in resources_of("google_service_account").values()
    }
    assert accounts == {f"${{local.name}}-{n}" for n in ("run", "api", "scheduler", "build")}


def _top_data(dtype: str, name: str) -> dict[str, Any]:
    for entry in _top("data"):
        if dtype in entry and name in entry[dtype]:
            body: dict[str, Any] = entry[dtype][name]
            return body
    raise AssertionError(f"data.{dtype}.{name} is not defined")


def test_source_bucket_is_private_uniform_and_versioned() -> None:
    bucket = resource("google_storage_bucket", "source")
    assert attr(bucket, "uniform_bucket_level_access") is True
    assert attr(bucket, "public_access_prevention") == "enforced"
    assert attr(block(bucket, "versioning"), "enabled") is True


# ---------------------------------------------------------------------------
# Scheduler jobs
# ---------------------------------------------------------------------------


def test_processes_file_has_the_shape_the_local_scheduler_reads() -> None:
    retry_keys = {
        "retry_count",
        "min_backoff_seconds",
        "max_backoff_seconds",
        "max_doublings",
        "max_retry_duration_seconds",
    }
    assert processes_file(), "at least one process"
    for name, spec in processes_file().items():
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}", name), name
        assert len(spec["schedule"].split()) == 5, f"{name}: unix-cron has five fields"
        assert isinstance(spec["time_zone"], str) and spec["time_zone"]
        assert isinstance(spec["attempt_deadline_seconds"], int)
        assert isinstance(spec["shards"], int) and 1 <= spec["shards"] <= MAX_SHARDS, name
        assert isinstance(spec.get("example", False), bool), name
        assert set(spec["retry"]) == retry_keys, name


def test_the_local_scheduler_reads_each_process_shard_count() -> None:
    specs = load_jobs(PROCESSES_FILE).values()
    assert Counter(spec.process for spec in specs) == {
        name: entry["shards"] for name, entry in processes_file().items()
    }
    entry = {**processes_file()["ttl-sweeper"]}
    del entry["shards"]
    assert list(parse_jobs({"processes": {"p": entry}})) == ["slotwork-p-0"], "one shard by default"
    three = parse_jobs({"processes": {"p": {**entry, "shards": 3}}})
    assert [spec.shard for spec in three.values()] == [0, 1, 2]
    for bad in (0, MAX_SHARDS + 1, 1.5, "2", True):
        with pytest.raises(JobsFileError, match="shards"):
            parse_jobs({"processes": {"p": {**entry, "shards": bad}}})


def test_shards_are_validated_as_the_local_scheduler_does() -> None:
    processes = variables()["processes"]
    assert _optional_defaults(expr(attr(processes, "type")))["shards"] == 1
    conditions = [attr(v, "condition").replace(" ", "") for v in blocks(processes, "validation")]
    assert any(f"p.shards>=1&&p.shards<={MAX_SHARDS}" in c for c in conditions), conditions


def test_every_process_in_the_code_has_a_scheduler_job() -> None:
    in_code = {p.name for p in _code_processes()}
    in_terraform = set(processes_file())
    assert in_code <= in_terraform, f"processes without a job: {sorted(in_code - in_terraform)}"
    assert in_terraform <= in_code, (
        f"jobs for processes the code does not define: {sorted(in_terraform - in_code)}"
    )


def test_one_job_per_process_and_shard_named_slotwork_process_shard() -> None:
    job = resource("google_cloud_scheduler_job", "tick")
    assert attr(job, "for_each") == "${local.jobs}"
    assert attr(job, "name") == "${each.key}", "local.jobs is keyed by job id"
    assert locals_()["job_id_prefix"] == "${local.name}-"
    assert locals_()["name"] + "-" == JOB_ID_PREFIX
    job_ids = re.sub(r"\s", "", locals_()["job_ids"])
    # process => [ids of shards 0 .. shards-1]
    assert "forprocess,pinvar.processes:process=>[forshardinrange(p.shards):" in job_ids
    assert '"${local.job_id_prefix}${process}-${shard}"' in job_ids, job_ids
    jobs_local = re.sub(r"\s", "", locals_()["jobs"])
    assert "forprocess,idsinlocal.job_ids" in jobs_local and "forshard,idinids" in jobs_local
    assert "{id=id,process=process,shard=shard}" in jobs_local and ":job.id=>job" in jobs_local
    # The same scheme as the local scheduler's job_id and DESIGN.md: slotwork-<process>-<k>.
    assert local_job_id("ttl-sweeper", 0) == JOB_ID_PREFIX + "ttl-sweeper-0"
    assert local_job_id("ttl-sweeper", 3) == JOB_ID_PREFIX + "ttl-sweeper-3"
    triggers = importlib.import_module("slotwork.triggers")
    assert triggers.JOB_PREFIX == JOB_ID_PREFIX, "the engine runs jobs under the same prefix"
    assert attr(job, "region") == "${var.region}", "jobs live under SLOTWORK_SCHEDULER_PARENT"


def test_job_names_are_output_per_process_in_shard_order() -> None:
    value = re.sub(r"\s", "", expr(attr(outputs()["scheduler_job_names"], "value")))
    assert "forprocess,idsinlocal.job_ids:process=>[foridinids:" in value, value
    assert "google_cloud_scheduler_job.tick[id].id" in value, value


def test_job_posts_the_process_to_run_with_an_oidc_token() -> None:
    target = block(resource("google_cloud_scheduler_job", "tick"), "http_target")
    run_url = "${google_cloudfunctions2_function.run.service_config[0].uri}"
    assert attr(target, "http_method") == "POST"
    assert attr(target, "uri") == run_url
    assert attr(target, "headers") == {"Content-Type": "application/json"}
    body = re.sub(r"[\s'\"]", "", attr(target, "body"))
    # {"process": P, "shard": k}: JSON, the shard a number (range() yields numbers)
    fields = r"process[:=]each\.value\.process,shard[:=]each\.value\.shard"
    assert re.fullmatch(rf"\$\{{base64encode\(jsonencode\(\{{{fields}\}}\)\)\}}", body), body
    oidc = block(target, "oidc_token")
    assert attr(oidc, "service_account_email") == "${google_service_account.scheduler.email}"
    assert attr(oidc, "audience") == run_url


def test_job_retry_and_deadline_come_from_the_processes_file() -> None:
    job = resource("google_cloud_scheduler_job", "tick")
    assert attr(job, "attempt_deadline") == "${each.value.attempt_deadline_seconds}s"
    retry = block(job, "retry_config")
    assert attr(retry, "retry_count") == "${each.value.retry.retry_count}"
    assert attr(retry, "max_doublings") == "${each.value.retry.max_doublings}"
    for field, key in (
        ("min_backoff_duration", "min_backoff_seconds"),
        ("max_backoff_duration", "max_backoff_seconds"),
        ("max_retry_duration", "max_retry_duration_seconds"),
    ):
        assert attr(retry, field) == f"${{each.value.retry.{key}}}s"


@pytest.mark.parametrize("process", sorted(processes_file()))
def test_deadlines_nest_engine_then_attempt_then_timeout(process: str) -> None:
    settings = run_function_settings()
    engine = settings["engine_deadline_seconds"]
    timeout = settings["timeout_seconds"]
    attempt = processes_file()[process]["attempt_deadline_seconds"]
    assert engine < attempt <= min(HTTP_ATTEMPT_DEADLINE_LIMIT, timeout), (engine, attempt, timeout)
    assert processes_file()[process]["shards"] <= settings["max_instances"]


def test_deadlines_are_wired_to_the_same_inputs_terraform_checks() -> None:
    run = resource("google_cloudfunctions2_function", "run")
    assert (
        attr(block(run, "service_config"), "timeout_seconds")
        == "${var.run_function.timeout_seconds}"
    )
    job = resource("google_cloud_scheduler_job", "tick")
    conditions = [attr(p, "condition") for p in blocks(block(job, "lifecycle"), "precondition")]
    text = " ".join(conditions).replace(" ", "")
    assert "var.run_function.engine_deadline_seconds<each.value.attempt_deadline_seconds" in text
    assert "each.value.attempt_deadline_seconds<=min(1800,var.run_function.timeout_seconds)" in text
    assert "each.value.shards<=var.run_function.max_instances" in text, "all shards tick at once"


def test_engine_defaults_are_deployed_unchanged() -> None:
    checkpoint = _optional_defaults(expr(attr(variables()["checkpoint"], "type")))
    assert variable_default("checkpoint") == {}
    assert checkpoint == {
        "items": EngineConfig.checkpoint_items,
        "seconds": EngineConfig.checkpoint_seconds,
    }
    assert variable_default("lease_seconds") == DEFAULT_LEASE_SECONDS
    assert variable_default("min_frequency_seconds") == DEFAULT_MIN_FREQUENCY_SECONDS
    run = resource("google_cloudfunctions2_function", "run")
    conditions = [attr(p, "condition") for p in blocks(block(run, "lifecycle"), "precondition")]
    assert "var.checkpoint.seconds<var.lease_seconds" in " ".join(conditions).replace(" ", "")


def test_run_function_defaults_match_the_contract() -> None:
    settings = run_function_settings()
    assert settings["timeout_seconds"] == 540
    assert settings["engine_deadline_seconds"] == 480
    assert settings["memory"] == "512Mi"


# ---------------------------------------------------------------------------
# IAM
# ---------------------------------------------------------------------------


def _iam_resources() -> dict[tuple[str, str], dict[str, Any]]:
    return {
        key: body
        for key, body in resources().items()
        if key[0].endswith(("_iam_member", "_iam_binding", "_iam_policy"))
    }


def test_no_public_member_anywhere() -> None:
    for (rtype, name), body in _iam_resources().items():
        assert not rtype.endswith(("_iam_policy", "_iam_binding")), (
            f"{rtype}.{name}: grant per member"
        )
        member = attr(body, "member")
        assert member not in PUBLIC_MEMBERS, f"{rtype}.{name} grants {member}"
    # Outside the validation that rejects them, no .tf or tfvars file names a public member.
    for doc_name, doc in _all_files().items():
        for kind, entries in doc.items():
            for entry in entries:
                if kind == "variable":
                    entry = {
                        n: {k: v for k, v in b.items() if k != "validation"}
                        for n, b in entry.items()
                    }
                for text in _strings(entry):
                    assert not any(m in text for m in PUBLIC_MEMBERS), f"{doc_name}: {text}"
    for path in TF_DIR.rglob("*.tfvars*"):
        assert not any(m in path.read_text() for m in PUBLIC_MEMBERS), path.name
    for name in ("api_readers", "api_writers", "api_members"):
        assert variable_default(name) == [], f"{name}: nobody by default"
    rejecting = " ".join(
        attr(v, "condition") for v in blocks(variables()["api_readers"], "validation")
    )
    assert all(m in rejecting for m in PUBLIC_MEMBERS), "api_readers rejects public members"
    for name in ("api_writers", "api_members"):
        assert not any(_accepts(name, m) for m in PUBLIC_MEMBERS), name


def _regexes(variable: str) -> list[str]:
    """The patterns of the regex() calls of a variable's validations, as Terraform reads them."""
    conditions = " ".join(attr(v, "condition") for v in blocks(variables()[variable], "validation"))
    literals = re.findall(r'regex\("((?:[^"\\]|\\.)*)"', conditions)
    return [lit.replace("\\\\", "\\").replace('\\"', '"') for lit in literals]


def _accepts(variable: str, value: str) -> bool:
    """Whether the first regex of a variable's validations matches ``value``."""
    return re.search(_regexes(variable)[0], value) is not None


@pytest.mark.parametrize(
    ("variable", "accepted", "refused"),
    [
        ("firestore_database", ["slotwork", "slot-work-2"], ["Slotwork", "abc", "slot_work", "x-"]),
        ("ttl_sweeper_collections", ["sessions", "demo_events"], ["a/b", "a,b", "a b", ""]),
        ("processes_module", ["processes", "jobs.processes"], ["1x", "a-b", "a..b"]),
        ("api_readers", ["group:ops@example.com", "principalSet://x"], ["allUsers", "ops"]),
    ],
)
def test_validations_accept_what_they_describe_and_refuse_the_rest(
    variable: str, accepted: list[str], refused: list[str]
) -> None:
    for value in accepted:
        assert _accepts(variable, value), (variable, value)
    for value in refused:
        assert not _accepts(variable, value), (variable, value)


def test_writers_are_people_and_service_accounts_named_by_email() -> None:
    # An ID token carries an email, not groups: only members with an email can write.
    for name in ("api_writers", "api_members"):
        assert _accepts(name, "user:oncall@example.com")
        assert _accepts(name, "serviceAccount:ci@p.iam.gserviceaccount.com")
        for other in ("group:ops@example.com", "domain:example.com", "user:", "oncall@example.com"):
            assert not _accepts(name, other), (name, other)
    assert _accepts("api_readers", "group:ops@example.com")
    assert _accepts("api_readers", "domain:example.com")


def test_run_is_invoked_only_by_the_scheduler_and_api_only_by_readers_and_writers() -> None:
    invokers = resources_of("google_cloud_run_service_iam_member")
    assert set(invokers) == {"run_invoker", "api_invoker"}
    run, api = invokers["run_invoker"], invokers["api_invoker"]
    assert attr(run, "service") == "${google_cloudfunctions2_function.run.name}"
    assert attr(run, "role") == "roles/run.invoker"
    assert attr(run, "member") == "${google_service_account.scheduler.member}"
    assert attr(api, "service") == "${google_cloudfunctions2_function.api.name}"
    assert attr(api, "role") == "roles/run.invoker"
    assert attr(api, "for_each") == "${local.api_invokers}"
    assert attr(api, "member") == "${each.value}"
    assert locals_()["api_invokers"] == "${toset(concat(var.api_readers, local.api_writers))}"
    # api_members is the deprecated name of api_writers
    assert locals_()["api_writers"] == "${distinct(concat(var.api_writers, var.api_members))}"
    assert not resources_of("google_cloudfunctions2_function_iam_member")


def _project_roles(member: str) -> set[str]:
    """Roles granted at project level to ``member`` (a for_each over local.function_members
    grants to each of its members)."""
    function_members = locals_()["function_members"]
    roles = set()
    for body in resources_of("google_project_iam_member").values():
        granted = attr(body, "member")
        if granted == member or (
            granted == "${each.value}"
            and attr(body, "for_each", None) == "${local.function_members}"
            and member in function_members.values()
        ):
            roles.add(attr(body, "role"))
    return roles


def test_each_function_account_gets_only_datastore_user_and_job_run_at_project_level() -> None:
    assert locals_()["function_members"] == {
        "run": "${google_service_account.run.member}",
        "api": "${google_service_account.api.member}",
    }
    for function in FUNCTIONS:
        assert _project_roles(f"${{google_service_account.{function}.member}}") == {
            "roles/datastore.user",
            "${google_project_iam_custom_role.job_runner.name}",
        }, function
    role = resource("google_project_iam_custom_role", "job_runner")
    assert attr(role, "permissions") in (["cloudscheduler.jobs.run"], "cloudscheduler.jobs.run")
    assert not _project_roles("${google_service_account.scheduler.member}"), (
        "the invoker has no project role"
    )
    for body in resources_of("google_project_iam_member").values():
        assert attr(body, "role") not in {"roles/owner", "roles/editor", "roles/viewer"}
    # No one is allowed to act as (impersonate) any of these accounts.
    assert not resources_of("google_service_account_iam_member")


def test_the_build_account_reads_only_the_source_buckets() -> None:
    build = "${google_service_account.build.member}"
    assert _project_roles(build) == {"roles/logging.logWriter", "roles/storage.objectViewer"}
    (viewer,) = [
        body
        for body in resources_of("google_project_iam_member").values()
        if attr(body, "member") == build and attr(body, "role") == "roles/storage.objectViewer"
    ]
    # Project level, but only for the bucket Cloud Functions copies the source into.
    expression = attr(block(viewer, "condition"), "expression")
    bucket = "projects/_/buckets/${local.gcf_sources_bucket}"
    assert expression == (
        f'resource.name == "{bucket}" || resource.name.startsWith("{bucket}/")'
    ), expression
    assert locals_()["gcf_sources_bucket"] == (
        "gcf-v2-sources-${data.google_project.this.number}-${var.region}"
    )
    (own,) = resources_of("google_storage_bucket_iam_member").values()
    assert attr(own, "bucket") == "${google_storage_bucket.source.name}"
    assert (attr(own, "role"), attr(own, "member")) == ("roles/storage.objectViewer", build)
    writer = resource("google_artifact_registry_repository_iam_member", "build_writer")
    assert attr(writer, "repository") == "${google_artifact_registry_repository.functions.name}"
    assert (attr(writer, "role"), attr(writer, "member")) == (
        "roles/artifactregistry.writer",
        build,
    )


# ---------------------------------------------------------------------------
# Firestore
# ---------------------------------------------------------------------------


def _index_key(
    collection: str, fields: list[tuple[str, str]]
) -> tuple[str, tuple[tuple[str, str], ...]]:
    # Firestore appends __name__ in the direction of the last field: writing it out changes nothing.
    if len(fields) > 1 and fields[-1][0] == "__name__" and fields[-1][1] == fields[-2][1]:
        fields = fields[:-1]
    return collection, tuple(fields)


def test_composite_indexes_match_the_code_queries_both_ways() -> None:
    in_terraform = {}
    for name, body in resources_of("google_firestore_index").items():
        assert attr(body, "query_scope") == "COLLECTION", name
        assert attr(body, "database") == "${local.firestore_database}", name
        fields = [(attr(f, "field_path"), attr(f, "order")) for f in blocks(body, "fields")]
        in_terraform[_index_key(attr(body, "collection"), fields)] = name
    in_code = {_index_key(i.collection_group, list(i.fields)) for i in COMPOSITE_INDEXES}
    assert in_code <= set(in_terraform), (
        f"indexes missing in firestore.tf: {sorted(in_code - set(in_terraform))}"
    )
    unused = {in_terraform[k] for k in set(in_terraform) - in_code}
    assert not unused, f"indexes no query needs: {sorted(unused)}"


def test_the_database_is_the_one_the_functions_are_told_about() -> None:
    assert variable_default("firestore_database") == "(default)"
    database = resource("google_firestore_database", "slotwork")
    assert attr(database, "name") == "${var.firestore_database}"
    assert attr(database, "type") == "FIRESTORE_NATIVE"
    assert attr(database, "delete_protection_state") == "DELETE_PROTECTION_ENABLED"
    assert attr(database, "deletion_policy") == "ABANDON", "destroy never deletes the state"
    found = re.sub(r"\s", "", locals_()["firestore_database"])
    created = "google_firestore_database.slotwork[0].name"
    assert found == f"${{var.create_firestore_database?{created}:var.firestore_database}}"


def test_a_database_of_its_own_confines_the_firestore_role_to_it() -> None:
    grant = resource("google_project_iam_member", "firestore")
    assert attr(grant, "role") == "roles/datastore.user"
    (dynamic,) = blocks(grant, "dynamic")
    condition = dynamic["condition"]
    assert attr(condition, "for_each") == "${local.firestore_conditions}"
    content = block(condition, "content")
    assert attr(content, "expression") == "${condition.value.expression}"
    conditions = locals_()["firestore_conditions"]
    # none for the shared (default) database, else one naming the database
    assert conditions.startswith('${var.firestore_database == "(default)" ? [] : [{')
    expected = (
        r"resource.name == \"projects/${var.project_id}/databases/${var.firestore_database}\""
    )
    assert f'expression = "{expected}"' in conditions, conditions


# ---------------------------------------------------------------------------
# Monitoring: log-based metrics (metrics.json), alerts, the dashboard
# (tests/test_metrics.py evaluates the metrics against the engine's log lines)
# ---------------------------------------------------------------------------

METRIC_CATALOG = MODULE_DIR / "metrics.json"
# What issue 16 asks an operator to be alerted to, by the module's alert key.
ALERTS = {"slot_unfinished", "run_aborted", "slots_missed", "items_quarantined", "tick_failures"}
# Aligners the Monitoring API accepts on a DELTA metric of each value type
# (google.monitoring.v3.Aggregation.Aligner), with the reducers that may follow.
ALIGNERS = {
    "counter": {"ALIGN_SUM", "ALIGN_DELTA", "ALIGN_RATE", "ALIGN_COUNT", "ALIGN_MAX"},
    "distribution": {"ALIGN_PERCENTILE_99", "ALIGN_PERCENTILE_95", "ALIGN_PERCENTILE_50"},
}
NUMERIC_REDUCERS = {"REDUCE_SUM", "REDUCE_MAX", "REDUCE_MEAN", "REDUCE_MIN"}


@cache
def metric_catalog() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(METRIC_CATALOG.read_text(encoding="utf-8"))
    return loaded


def test_log_metrics_are_made_from_the_catalog_file() -> None:
    assert locals_()["metric_catalog"] == '${jsondecode(file("${path.module}/metrics.json"))}'
    sources = re.sub(r"\s", "", locals_()["log_sources"])
    assert sources == (
        "${{forsource,filterinlocal.metric_catalog.sources:source=>"
        'replace(replace(filter,"{run_service}",local.run_function_name),"{project}",var.project_id)}}'
    ), "the placeholders tests/test_metrics.py fills in the same way"
    assert "{run_service}" in metric_catalog()["sources"]["engine"]
    rendered = locals_()["metrics"]
    assert 'filter = "${local.log_sources[m.source]} AND (${m.filter})"' in rendered
    assert 'name = "${local.metric_prefix}${key}"' in rendered
    metric = resource("google_logging_metric", "slotwork")
    assert attr(metric, "for_each") == "${local.metrics}"
    assert attr(metric, "filter") == "${each.value.filter}"
    assert attr(metric, "name") == "${each.value.name}"
    descriptor = block(metric, "metric_descriptor")
    assert attr(descriptor, "metric_kind") == "DELTA", "log-based metrics are DELTA"
    assert attr(descriptor, "value_type") == '${each.value.distribution ? "DISTRIBUTION" : "INT64"}'
    assert "local.metric_catalog.labels[label].extractor" in attr(metric, "label_extractors")
    assert attr(metric, "value_extractor") == "${each.value.value}"


def _alert_metric(alert: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = metric_catalog()["metrics"][alert["metric"]]
    return spec


def test_each_alert_watches_a_catalog_metric_with_an_aggregation_its_kind_allows() -> None:
    alerts = locals_()["alerts"]
    assert set(alerts) == ALERTS
    for key, alert in alerts.items():
        metric = _alert_metric(alert)
        assert alert["aligner"] in ALIGNERS[metric["kind"]], key
        assert alert["reducer"] in NUMERIC_REDUCERS, key
        labels = set(metric["labels"])
        assert {g.removeprefix("metric.label.") for g in alert["group_by"]} <= labels, key
        if "process" in labels:
            assert alert["group_by"] == ["metric.label.process"], f"{key}: an incident per process"
            assert "${metric.label.process}" in alert["subject"], f"{key}: names the process"
        for label in re.findall(r"metric\.label\.(\w+)", alert["extra_filter"]):
            assert label in labels, key
        assert 60 <= alert["window"] <= 90000, "the API's alignment period range for alerts"
        assert alert["severity"] in {"CRITICAL", "ERROR", "WARNING"}
    policy = resource("google_monitoring_alert_policy", "slotwork")
    condition = block(block(policy, "conditions"), "condition_threshold")
    assert "local.metric_types[each.value.metric]" in attr(condition, "filter")
    assert 'resource.type=\\"cloud_run_revision\\"' in attr(condition, "filter")
    assert attr(condition, "evaluation_missing_data") == "EVALUATION_MISSING_DATA_INACTIVE"
    # The metric types come from the created metrics, so alerts wait for them.
    assert "google_logging_metric.slotwork" in locals_()["metric_types"]


def test_every_alert_says_what_to_do_and_obeys_the_inputs() -> None:
    for key, alert in locals_()["alerts"].items():
        content = alert["content"]
        assert "What to do:" in content and "1. " in content, key
        assert re.search(r"`(gcloud|GET|POST|PATCH) ", content), f"{key}: a command to start from"
    policy = resource("google_monitoring_alert_policy", "slotwork")
    assert attr(policy, "for_each") == "${local.alerts}"
    assert attr(policy, "enabled") == "${var.alerts_enabled}"
    assert attr(policy, "notification_channels") == "${var.notification_channels}"
    assert variable_default("alerts_enabled") is True
    assert variable_default("notification_channels") == []
    documentation = block(policy, "documentation")
    assert attr(documentation, "mime_type") == "text/markdown"
    assert "each.value.content" in attr(documentation, "content")


def test_the_dashboard_charts_every_metric_per_process() -> None:
    charts = locals_()["dashboard_charts"]
    assert sorted(c["metric"] for c in charts) == sorted(metric_catalog()["metrics"])
    for chart in charts:
        metric = metric_catalog()["metrics"][chart["metric"]]
        assert set(chart["group_by"]) <= set(metric["labels"]), chart
        if "process" in metric["labels"]:
            assert chart["group_by"][0] == "process", f"{chart['metric']}: a series per process"
        kind = "counter" if chart["query"] == "count" else "distribution"
        assert metric["kind"] == kind, f"{chart['metric']}: {chart['query']} of a {metric['kind']}"
    dashboard = resource("google_monitoring_dashboard", "slotwork")
    assert attr(dashboard, "dashboard_json").startswith("${jsonencode(")
    assert "local.dashboard_widgets" in attr(dashboard, "dashboard_json")
    # PromQL's name of a log-based metric (Cloud Monitoring's mapping).
    assert locals_()["promql_names"] == (
        '${{for key in keys(local.metrics) : key => "logging_googleapis_com:user_'
        '${replace(local.metric_prefix, "/", "_")}${key}"}}'
    )


def test_the_logging_and_monitoring_apis_are_enabled() -> None:
    services = locals_()["services"]
    assert "logging.googleapis.com" in services and "monitoring.googleapis.com" in services


# ---------------------------------------------------------------------------
# Inputs and outputs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(variables()))
def test_every_variable_is_typed_described_and_validated(name: str) -> None:
    body = variables()[name]
    assert attr(body, "type", None), f"var.{name} has no type"
    assert str(attr(body, "description", "")).strip(), f"var.{name} has no description"
    assert blocks(body, "validation"), f"var.{name} has no validation block"
    for validation in blocks(body, "validation"):
        assert str(attr(validation, "error_message")).strip()


def test_outputs_give_urls_service_accounts_and_job_names() -> None:
    required = {
        "run_function_url",
        "api_function_url",
        "run_service_account_email",
        "api_service_account_email",
        "scheduler_service_account_email",
        "build_service_account_email",
        "scheduler_job_names",
        "metric_types",
        "alert_policy_names",
        "dashboard_id",
    }
    assert required <= set(outputs()), f"missing outputs: {sorted(required - set(outputs()))}"
    for name, body in outputs().items():
        assert str(attr(body, "description", "")).strip(), f"output {name} has no description"


# ---------------------------------------------------------------------------
# Callers of the module: the repository's root and the examples
# ---------------------------------------------------------------------------

MODULE_META_ARGUMENTS = {"source", "version", "providers", "count", "for_each", "depends_on"}
# What the repository's root sets itself instead of taking it as an input.
ROOT_FIXED_INPUTS = {"source_dir", "processes_module"}
# Inputs of the root alone, not handed to the module.
ROOT_ONLY_INPUTS = {"deploy_examples"}
DEPRECATED_INPUTS = {"api_members"}  # means api_writers
# The root's processes entries have this field more than the module's.
ROOT_PROCESS_FIELD = ", example = optional(bool, false)"


def _caller_id(directory: Path) -> str:
    return str(directory.relative_to(TF_DIR)) if directory != TF_DIR else "root"


@pytest.mark.parametrize("directory", CALLER_DIRS, ids=_caller_id)
def test_callers_pass_only_inputs_the_module_declares_and_every_required_one(
    directory: Path,
) -> None:
    call = module_call(directory)
    assert (directory / call["source"]).resolve() == MODULE_DIR
    inputs = set(call) - MODULE_META_ARGUMENTS
    assert inputs <= set(variables()), f"not module inputs: {sorted(inputs - set(variables()))}"
    required = {name for name, body in variables().items() if "default" not in body}
    assert required <= inputs, f"required inputs not set: {sorted(required - inputs)}"


@pytest.mark.parametrize("directory", CALLER_DIRS, ids=_caller_id)
def test_callers_deploy_this_repositorys_function_source(directory: Path) -> None:
    source_dir = module_call(directory)["source_dir"]
    assert source_dir.startswith("${path.module}/"), "relative to the caller, not the working dir"
    assert (directory / source_dir.removeprefix("${path.module}/")).resolve() == FUNCTIONS_DIR
    processes_module = module_call(directory).get("processes_module", "processes")
    assert (FUNCTIONS_DIR / f"{processes_module.replace('.', '/')}.py").is_file()


@pytest.mark.parametrize("directory", CALLER_DIRS, ids=_caller_id)
def test_callers_read_only_outputs_the_module_declares(directory: Path) -> None:
    read = {
        m
        for doc in _files(directory).values()
        for kind, entries in doc.items()
        if kind != "moved"  # addresses of resources in the module, not outputs
        for text in _strings(entries)
        for m in re.findall(r"module\.slotwork\.(\w+)", text)
    }
    assert read, "reads at least one output"
    assert read <= set(outputs()), f"not module outputs: {sorted(read - set(outputs()))}"


def test_the_full_example_sets_every_input() -> None:
    call = module_call(TF_DIR / "examples" / "full")
    missing = set(variables()) - set(call) - DEPRECATED_INPUTS
    assert not missing, f"examples/full leaves out: {sorted(missing)}"


def test_the_minimal_example_sets_only_what_is_required_and_a_process() -> None:
    call = module_call(TF_DIR / "examples" / "minimal")
    required = {name for name, body in variables().items() if "default" not in body}
    assert set(call) - MODULE_META_ARGUMENTS == required


def test_the_root_hands_its_inputs_to_the_module_with_the_same_types() -> None:
    root, module, call = variables(TF_DIR), variables(), module_call(TF_DIR)
    assert set(module) - set(root) == ROOT_FIXED_INPUTS, "every other module input is a root input"
    assert set(root) - set(module) == ROOT_ONLY_INPUTS
    for name, body in root.items():
        if name in ROOT_ONLY_INPUTS:
            continue
        if name != "processes":
            assert call[name] == f"${{var.{name}}}", f"var.{name} is handed over as is"
        root_type = attr(body, "type")
        if name == "processes":
            root_type = root_type.replace(ROOT_PROCESS_FIELD, "")
        assert root_type == attr(module[name], "type"), f"var.{name}: type differs"
        assert str(attr(body, "description", "")).strip(), f"var.{name} has no description"
        if "default" in module[name]:
            assert attr(body, "default") is None, f"var.{name}: null means the module's default"
            if attr(module[name], "default") is not None:
                assert attr(module[name], "nullable", True) is False, (
                    f"module var.{name} must not be nullable, or a null from the root would stick"
                )
        else:
            assert "default" not in body, f"var.{name} is required in the module, so in the root"


def test_the_root_deploys_example_processes_only_when_asked() -> None:
    assert ROOT_PROCESS_FIELD in attr(variables(TF_DIR)["processes"], "type")
    assert "deploy_examples" not in variables(), "the root's own choice, not a module input"
    assert attr(variables(TF_DIR)["deploy_examples"], "default") is False
    assert module_call(TF_DIR)["processes"] == (
        "${{for name, p in var.processes : name => p if var.deploy_examples || !p.example}}"
    )
    examples = {name for name, spec in processes_file().items() if spec.get("example")}
    assert examples == {"ttl-sweeper"}, "the TTL sweeper is an example (issue 12)"


def test_the_root_outputs_every_module_output() -> None:
    root = outputs(TF_DIR)
    assert set(root) == set(outputs())
    for name, body in root.items():
        assert attr(body, "value") == f"${{module.slotwork.{name}}}"
        assert str(attr(body, "description", "")).strip(), f"output {name} has no description"


def test_moved_blocks_lead_from_the_old_root_layout_into_the_module() -> None:
    moves = list(_top("moved", TF_DIR))
    assert moves, "the state of deployments made before the module must carry over"
    declared_at_root = {key for entry in _top("resource", TF_DIR) for key in entry}
    for move in moves:
        old = attr(move, "from").removeprefix("${").removesuffix("}")
        new = attr(move, "to").removeprefix("${").removesuffix("}")
        assert new.startswith("module.slotwork."), new
        rtype, name = re.sub(r"\[.*\]$", "", new.removeprefix("module.slotwork.")).split(".")
        assert (rtype, name) in resources(), f"moved to {new}, which the module does not declare"
        assert old.split(".")[0] not in declared_at_root, f"{old} is still declared at the root"


def test_every_configuration_asks_for_the_same_terraform_and_provider_versions() -> None:
    settings = {
        _caller_id(directory): list(_top("terraform", directory))
        for directory in (MODULE_DIR, *CALLER_DIRS)
    }
    module = settings.pop(_caller_id(MODULE_DIR))
    assert len(module) == 1 and module[0]["required_version"] == ">= 1.5"
    for caller, blocks_ in settings.items():
        assert blocks_ == module, f"{caller}: versions differ from the module's"
