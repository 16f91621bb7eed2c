# Service accounts and every role they get. Nothing here is granted to
# allUsers or allAuthenticatedUsers, and no basic role (owner/editor/viewer)
# is granted to anyone.
#
#   runtime    identity of both functions: Firestore, and RunJob on the jobs
#   scheduler  identity Cloud Scheduler signs its OIDC tokens as: invokes `run`
#   build      identity Cloud Build uses to build the functions on deploy
#
# Project-level grants, all of them:
#   runtime  roles/datastore.user             Firestore has no per-collection IAM
#   runtime  custom role, cloudscheduler.jobs.run only (see below)
#   build    roles/logging.logWriter          build logs
#   build    roles/storage.objectViewer       the gcf-v2-sources-* bucket Cloud Functions
#                                             creates on first deploy, so it cannot be
#                                             granted per bucket beforehand

resource "google_service_account" "runtime" {
  project      = var.project_id
  account_id   = "${local.name}-runtime"
  display_name = "slotwork functions (runtime)"
  description  = "Runs the slotwork run and api functions: Firestore access and RunJob on the slotwork scheduler jobs."

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

# ---------------------------------------------------------------------------
# runtime
# ---------------------------------------------------------------------------

# Read and write documents. Project level is the narrowest predefined scope
# for one (default) database; it is the runtime's only predefined project role.
resource "google_project_iam_member" "runtime_firestore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.runtime.member
}

# Continuations and the API's :run call Cloud Scheduler RunJob on the
# process's own job. Cloud Scheduler has no per-job IAM (jobs have no IAM
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
  description = "Only cloudscheduler.jobs.run: lets the slotwork runtime fire its processes' Cloud Scheduler jobs now (continuations and :run)."
  permissions = ["cloudscheduler.jobs.run"]
  stage       = "GA"

  depends_on = [google_project_service.enabled]
}

resource "google_project_iam_member" "runtime_job_runner" {
  project = var.project_id
  role    = google_project_iam_custom_role.job_runner.name
  member  = google_service_account.runtime.member
}

# ---------------------------------------------------------------------------
# scheduler: run.invoker on the `run` function only (functions.tf)
# ---------------------------------------------------------------------------

# ---------------------------------------------------------------------------
# build
# ---------------------------------------------------------------------------

resource "google_project_iam_member" "build" {
  for_each = toset([
    "roles/logging.logWriter",
    "roles/storage.objectViewer",
  ])

  project = var.project_id
  role    = each.value
  member  = google_service_account.build.member
}

resource "google_artifact_registry_repository_iam_member" "build_writer" {
  project    = var.project_id
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.build.member
}
