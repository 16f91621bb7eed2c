# Service accounts and every role they get. Nothing here is granted to
# allUsers or allAuthenticatedUsers, and no basic role (owner/editor/viewer)
# is granted to anyone.
#
#   run        identity of the `run` function: Firestore, RunJob (continuations)
#   api        identity of the `api` function: Firestore, RunJob (POST /processes/{p}:run)
#   scheduler  identity Cloud Scheduler signs its OIDC tokens as: invokes `run`
#   build      identity Cloud Build uses to build the functions on deploy
#
# Project-level grants, all of them:
#   run, api  roles/datastore.user            Firestore has no per-collection IAM;
#                                             conditioned on a named firestore_database
#   run, api  custom role, cloudscheduler.jobs.run only (see below)
#   build     roles/logging.logWriter         build logs
#   build     roles/storage.objectViewer      with a condition: only the
#                                             gcf-v2-sources-<number>-<region> bucket (see below)

resource "google_service_account" "run" {
  project      = var.project_id
  account_id   = "${local.name}-run"
  display_name = "slotwork run function"
  description  = "Runs the slotwork run function (the ticks): Firestore access and RunJob for continuations."

  depends_on = [google_project_service.enabled]
}

resource "google_service_account" "api" {
  project      = var.project_id
  account_id   = "${local.name}-api"
  display_name = "slotwork api function"
  description  = "Runs the slotwork api function: Firestore access and RunJob for POST /processes/{p}:run."

  depends_on = [google_project_service.enabled]
}

resource "google_service_account" "scheduler" {
  project      = var.project_id
  account_id   = "${local.name}-scheduler"
  display_name = "slotwork scheduler (invoker)"
  description  = "Cloud Scheduler signs its OIDC tokens as this account to invoke the slotwork run function; it has no other role."

  depends_on = [google_project_service.enabled]
}

resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "${local.name}-build"
  display_name = "slotwork build"
  description  = "Cloud Build builds the slotwork functions as this account (new projects give the default build account no roles)."

  depends_on = [google_project_service.enabled]
}

locals {
  # The two functions' identities. Each needs the same two grants: the
  # documents, and RunJob (a tick's continuation; the API's :run).
  function_members = {
    run = google_service_account.run.member
    api = google_service_account.api.member
  }

  # A database of slotwork's own confines the Firestore role to it.
  firestore_conditions = var.firestore_database == "(default)" ? [] : [{
    title      = "slotwork database ${var.firestore_database} only"
    expression = "resource.name == \"projects/${var.project_id}/databases/${var.firestore_database}\""
  }]
}

# ---------------------------------------------------------------------------
# run and api
# ---------------------------------------------------------------------------

# Read and write documents. Firestore has no per-collection IAM; project
# level is the narrowest scope of a predefined role, and with a database of
# slotwork's own (var.firestore_database) an IAM condition on the database's
# resource name confines the grant to it. The (default) database gets no
# condition: slotwork shares it with the project's other data.
resource "google_project_iam_member" "firestore" {
  for_each = local.function_members

  project = var.project_id
  role    = "roles/datastore.user"
  member  = each.value

  dynamic "condition" {
    for_each = local.firestore_conditions
    content {
      title       = condition.value.title
      description = "Firestore documents of the slotwork database only."
      expression  = condition.value.expression
    }
  }
}

# Continuations and the API's :run call Cloud Scheduler RunJob on the
# process's own jobs. Cloud Scheduler has no per-job IAM (jobs have no IAM
# policy, and the google provider has no google_cloud_scheduler_job_iam_*
# resource), so the grant is at project level; the predefined
# roles/cloudscheduler.jobRunner also carries fullView and project and
# service read permissions, so this custom role holds cloudscheduler.jobs.run
# alone. RunJob only makes a job fire as configured; it cannot create, edit,
# retarget or read jobs. The caller needs no actAs on the scheduler account:
# that is checked when a job is created or updated, not when it is run.
resource "google_project_iam_custom_role" "job_runner" {
  project     = var.project_id
  role_id     = "slotworkJobRunner"
  title       = "slotwork job runner"
  description = "Only cloudscheduler.jobs.run: lets the slotwork functions fire their processes' Cloud Scheduler jobs now (continuations and :run)."
  permissions = ["cloudscheduler.jobs.run"]
  stage       = "GA"

  depends_on = [google_project_service.enabled]
}

resource "google_project_iam_member" "job_runner" {
  for_each = local.function_members

  project = var.project_id
  role    = google_project_iam_custom_role.job_runner.name
  member  = each.value
}

# ---------------------------------------------------------------------------
# scheduler: run.invoker on the `run` function only (functions.tf)
# ---------------------------------------------------------------------------

# ---------------------------------------------------------------------------
# build
# ---------------------------------------------------------------------------

resource "google_project_iam_member" "build_log_writer" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.build.member
}

resource "google_artifact_registry_repository_iam_member" "build_writer" {
  project    = var.project_id
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.build.member
}

# The zip Terraform uploads, read on our own bucket only.
resource "google_storage_bucket_iam_member" "build_source_reader" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.build.member
}

# Cloud Functions (2nd gen) copies the zip into its own bucket,
# gcf-v2-sources-<project number>-<region>, and Cloud Build fetches it from
# there ("failed to download archive gs://gcf-v2-sources-.../<function>/
# function-source.zip" is what a build account without this role reports).
# That bucket is created by the first deploy, so no bucket-level grant can
# be made beforehand. Instead a project-level grant whose condition admits
# that one bucket and its objects: the exact name (a prefix match on
# "...-europe-west1" would also admit "...-europe-west10").
resource "google_project_iam_member" "build_gcf_source_reader" {
  project = var.project_id
  role    = "roles/storage.objectViewer"
  member  = google_service_account.build.member

  condition {
    title       = "gcf-v2-sources bucket of ${var.region} only"
    description = "Cloud Functions copies the function source into this bucket on deploy; Cloud Build reads it from there."
    expression  = "resource.name == \"projects/_/buckets/${local.gcf_sources_bucket}\" || resource.name.startsWith(\"projects/_/buckets/${local.gcf_sources_bucket}/\")"
  }
}
