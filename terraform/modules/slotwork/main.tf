# The slotwork module: everything one deployment needs in one project, read
# top to bottom:
#
#   versions.tf   Terraform and provider versions
#   variables.tf  every input, typed, described and validated
#   services.tf   the APIs this deployment uses
#   main.tf       names derived from the inputs; the zipped function source
#   iam.tf        service accounts and every role they get
#   functions.tf  the `run` and `api` Cloud Functions (2nd gen) and who may invoke them
#   scheduler.tf  one Cloud Scheduler job per process and shard, ticking `run`
#   firestore.tf  the database and the composite indexes of the code's queries
#   monitoring.tf log-based metrics (defined in metrics.json), alert policies, a dashboard
#   outputs.tf    URLs, service accounts, job names, metrics, alerts

locals {
  # Every resource name starts with this. It is fixed, not an input: the
  # engine derives a process's job id from it (slotwork.triggers.JOB_PREFIX),
  # so one project and region hold one slotwork deployment.
  name          = "slotwork"
  job_id_prefix = "${local.name}-"

  # The Cloud Scheduler jobs: one per shard k = 0 .. shards-1 of each process,
  # id "slotwork-<process>-<k>" (an unsharded process has one, "-0"). RunJob on
  # "<scheduler_parent>/jobs/<id>" is how a tick of a shard asks for its
  # continuation and how the API's :run works.
  job_ids = {
    for process, p in var.processes :
    process => [for shard in range(p.shards) : "${local.job_id_prefix}${process}-${shard}"]
  }
  jobs = {
    for job in flatten([
      for process, ids in local.job_ids : [
        for shard, id in ids : merge(var.processes[process], { id = id, process = process, shard = shard })
      ]
    ]) : job.id => job
  }
  scheduler_parent = "projects/${var.project_id}/locations/${var.region}"

  run_function_name = "${local.name}-run"
  api_function_name = "${local.name}-api"

  # Where Cloud Functions copies the source on deploy (see iam.tf).
  gcf_sources_bucket = "gcf-v2-sources-${data.google_project.this.number}-${var.region}"

  firestore_location = coalesce(var.firestore_location, var.region)

  labels = merge(var.labels, { app = local.name })

  # Who may call the API (roles/run.invoker on it): readers and writers. The
  # api function lets only writers change anything, recognised by the email
  # in their verified ID token (api_writers holds user: and serviceAccount:
  # members only, so each one has an email after the colon).
  api_writers       = distinct(concat(var.api_writers, var.api_members))
  api_writer_emails = sort([for member in local.api_writers : split(":", member)[1]])
  api_invokers      = toset(concat(var.api_readers, local.api_writers))

  # The engine's configuration (slotwork.config.ENV_VARS), the same on both
  # functions. SLOTWORK_SCHEDULER_ENDPOINT is deliberately absent: it points
  # the engine at the local scheduler stand-in and is never set in the cloud.
  function_env = {
    GOOGLE_CLOUD_PROJECT           = var.project_id
    SLOTWORK_PROCESSES             = var.processes_module
    SLOTWORK_COLLECTION            = var.collection
    SLOTWORK_DATABASE              = var.firestore_database
    SLOTWORK_DEADLINE_SECONDS      = tostring(var.run_function.engine_deadline_seconds)
    SLOTWORK_LEASE_SECONDS         = tostring(var.lease_seconds)
    SLOTWORK_MIN_FREQUENCY_SECONDS = tostring(var.min_frequency_seconds)
    SLOTWORK_CHECKPOINT_ITEMS      = tostring(var.checkpoint.items)
    SLOTWORK_CHECKPOINT_SECONDS    = tostring(var.checkpoint.seconds)
    SLOTWORK_SCHEDULER_PARENT      = local.scheduler_parent
    SLOTWORK_SHARDS                = jsonencode({ for name, p in var.processes : name => p.shards })
    # The api function verifies every caller's Google ID token itself (on top
    # of the invoker check Cloud Run makes) and allows changes to writers only.
    SLOTWORK_API_AUTH                = "verified"
    SLOTWORK_API_WRITERS             = join(",", local.api_writer_emails)
    SLOTWORK_TRUST_IAP               = var.iap_enabled ? "true" : "false"
    SLOTWORK_TTL_SWEEPER_COLLECTIONS = join(",", var.ttl_sweeper_collections)
  }
}

# The project number, part of the name of the bucket Cloud Functions keeps
# the source in.
data "google_project" "this" {
  project_id = var.project_id
}

# ---------------------------------------------------------------------------
# Function source: var.source_dir zipped as is, stored under a name made of
# its hash, so any code change uploads a new object and redeploys both
# functions.
# ---------------------------------------------------------------------------

data "archive_file" "functions" {
  type       = "zip"
  source_dir = var.source_dir
  # In the caller's directory: a module fetched from a registry may sit in a
  # read-only folder, and deployments to other projects from one root must
  # not write the same file.
  output_path = "${path.root}/.build/${local.name}-${var.project_id}-${var.region}.zip"
  # Same bytes (hence the same hash) on every machine, whatever the umask.
  output_file_mode = "0644"
  excludes = [
    "**/__pycache__",
    "**/__pycache__/**",
    "**/*.pyc",
    "**/.pytest_cache/**",
    "**/.mypy_cache/**",
    "**/.ruff_cache/**",
  ]
}

resource "google_storage_bucket" "source" {
  #checkov:skip=CKV_GCP_62:Holds only the zipped function source that Terraform writes; access is recorded by Cloud Audit Logs, and a second log bucket would add cost without information.
  project  = var.project_id
  name     = "${var.project_id}-${local.name}-source"
  location = var.region
  labels   = local.labels

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  # Replaced source objects stay recoverable (rollback, audit) for 90 days.
  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 90
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_storage_bucket_object" "source" {
  bucket       = google_storage_bucket.source.name
  name         = "functions-${data.archive_file.functions.output_md5}.zip"
  source       = data.archive_file.functions.output_path
  content_type = "application/zip"

  lifecycle {
    create_before_destroy = true
  }
}

# Images built from the source. A repository of our own (instead of the
# gcf-artifacts one Cloud Functions would create) lets the build service
# account write here and nowhere else.
resource "google_artifact_registry_repository" "functions" {
  #checkov:skip=CKV_GCP_84:Images are rebuilt from the source bucket on every deploy and hold no data; Google-managed encryption is sufficient.
  project       = var.project_id
  location      = var.region
  repository_id = "${local.name}-functions"
  format        = "DOCKER"
  description   = "Container images of the slotwork functions (built by Cloud Build on deploy)."
  labels        = local.labels

  depends_on = [google_project_service.enabled]
}
