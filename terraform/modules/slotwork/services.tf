# The APIs this deployment uses. Service Usage and Cloud Resource Manager
# must already be enabled (they are in any project created from the console
# or gcloud): Terraform needs them to enable the others and to read IAM.

locals {
  services = toset([
    "artifactregistry.googleapis.com", # images of the functions
    "cloudbuild.googleapis.com",       # builds the functions from source
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com", # project IAM bindings
    "cloudscheduler.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",        # service accounts and the custom role
    "logging.googleapis.com",    # log-based metrics
    "monitoring.googleapis.com", # alert policies and the dashboard
    "run.googleapis.com",        # 2nd-gen functions run on Cloud Run
    "storage.googleapis.com",
  ])
}

resource "google_project_service" "enabled" {
  for_each = local.services

  project = var.project_id
  service = each.value

  # Destroying this deployment must not switch off APIs other workloads in
  # the project may use.
  disable_on_destroy         = false
  disable_dependent_services = false
}
