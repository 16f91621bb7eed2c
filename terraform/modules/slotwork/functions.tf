# The two HTTP Cloud Functions (2nd gen), built from the same source zip,
# each running as its own service account, with the same engine environment.
# Neither is public: invoking a 2nd-gen function needs roles/run.invoker on
# its Cloud Run service, granted below to named members only.

resource "google_cloudfunctions2_function" "run" {
  #checkov:skip=CKV_GCP_124:Ingress comes from var.run_function.ingress_settings, ALLOW_INTERNAL_ONLY unless overridden (checkov cannot read optional() defaults); invocation needs roles/run.invoker either way.
  project     = var.project_id
  location    = var.region
  name        = local.run_function_name
  description = "slotwork tick: claims the current slot of one process and works until its deadline. Called by Cloud Scheduler with {\"process\": NAME}."
  labels      = local.labels

  build_config {
    runtime           = var.runtime
    entry_point       = "run" # functions/main.py
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.functions.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    # Timeout >= Scheduler attempt deadline > engine deadline (preconditions in scheduler.tf).
    timeout_seconds                  = var.run_function.timeout_seconds
    available_memory                 = var.run_function.memory
    available_cpu                    = var.run_function.cpu
    max_instance_count               = var.run_function.max_instances
    min_instance_count               = var.run_function.min_instances
    max_instance_request_concurrency = 1 # one tick per instance: its deadline budget is its own
    ingress_settings                 = var.run_function.ingress_settings
    all_traffic_on_latest_revision   = true
    service_account_email            = google_service_account.run.email
    environment_variables            = local.function_env
  }

  lifecycle {
    precondition {
      condition     = var.checkpoint.seconds < var.lease_seconds
      error_message = "checkpoint.seconds (${var.checkpoint.seconds}) must be below lease_seconds (${var.lease_seconds}): every checkpoint renews the lease, so a longer interval lets it lapse mid-tick."
    }
  }

  depends_on = [
    google_project_iam_member.build_log_writer,
    google_project_iam_member.build_gcf_source_reader,
    google_storage_bucket_iam_member.build_source_reader,
    google_artifact_registry_repository_iam_member.build_writer,
  ]
}

resource "google_cloudfunctions2_function" "api" {
  #checkov:skip=CKV_GCP_124:The API's callers (people, CI, services elsewhere) are outside the project's network by design; roles/run.invoker, granted only to var.api_readers and var.api_writers, is the access control.
  project     = var.project_id
  location    = var.region
  name        = local.api_function_name
  description = "slotwork HTTPS API: register work, steer processes (pause, resume, :run, frequency), read state. IAM-authenticated callers only."
  labels      = local.labels

  build_config {
    runtime           = var.runtime
    entry_point       = "api" # functions/main.py
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.functions.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    timeout_seconds    = var.api_function.timeout_seconds
    available_memory   = var.api_function.memory
    available_cpu      = var.api_function.cpu
    max_instance_count = var.api_function.max_instances
    min_instance_count = var.api_function.min_instances
    # Callers (people, CI, other services) are outside the project's network;
    # IAM (api_readers, api_writers) decides who gets in; the function
    # decides who may change things (SLOTWORK_API_WRITERS).
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.api.email
    environment_variables          = local.function_env
  }

  depends_on = [
    google_project_iam_member.build_log_writer,
    google_project_iam_member.build_gcf_source_reader,
    google_storage_bucket_iam_member.build_source_reader,
    google_artifact_registry_repository_iam_member.build_writer,
  ]
}

# ---------------------------------------------------------------------------
# Who may invoke (roles/run.invoker on the function's Cloud Run service, which
# has the function's name). roles/cloudfunctions.invoker does not apply to 2nd gen.
# ---------------------------------------------------------------------------

resource "google_cloud_run_service_iam_member" "run_invoker" {
  project  = var.project_id
  location = google_cloudfunctions2_function.run.location
  service  = google_cloudfunctions2_function.run.name
  role     = "roles/run.invoker"
  member   = google_service_account.scheduler.member
}

resource "google_cloud_run_service_iam_member" "api_invoker" {
  for_each = local.api_invokers

  project  = var.project_id
  location = google_cloudfunctions2_function.api.location
  service  = google_cloudfunctions2_function.api.name
  role     = "roles/run.invoker"
  member   = each.value
}
