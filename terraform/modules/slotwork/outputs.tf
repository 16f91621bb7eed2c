# What a caller of this deployment needs: where the functions are, who they
# run as, and which Scheduler jobs tick which process.

output "run_function_url" {
  description = "URL of the run function (Cloud Scheduler's target and OIDC audience)."
  value       = google_cloudfunctions2_function.run.service_config[0].uri
}

output "api_function_url" {
  description = "URL of the HTTPS API; call it with an ID token of one of api_readers or api_writers, e.g. curl -H \"Authorization: Bearer $(gcloud auth print-identity-token)\" <url>/processes."
  value       = google_cloudfunctions2_function.api.service_config[0].uri
}

output "run_function_name" {
  description = "Name of the run function (and of its Cloud Run service)."
  value       = google_cloudfunctions2_function.run.name
}

output "api_function_name" {
  description = "Name of the api function (and of its Cloud Run service)."
  value       = google_cloudfunctions2_function.api.name
}

output "run_service_account_email" {
  description = "Service account the run function runs as (Firestore, RunJob for continuations)."
  value       = google_service_account.run.email
}

output "api_service_account_email" {
  description = "Service account the api function runs as (Firestore, RunJob for :run)."
  value       = google_service_account.api.email
}

output "scheduler_service_account_email" {
  description = "Service account whose OIDC tokens Cloud Scheduler sends to the run function."
  value       = google_service_account.scheduler.email
}

output "build_service_account_email" {
  description = "Service account Cloud Build builds the functions as."
  value       = google_service_account.build.email
}

output "scheduler_job_names" {
  description = "Full resource names of each process's Cloud Scheduler jobs, keyed by process: a list in shard order, shard k at index k (gcloud scheduler jobs run <name> ticks that shard now)."
  value = {
    for process, ids in local.job_ids :
    process => [for id in ids : google_cloud_scheduler_job.tick[id].id]
  }
}

output "scheduler_parent" {
  description = "projects/<project>/locations/<region>: where the jobs live (SLOTWORK_SCHEDULER_PARENT)."
  value       = local.scheduler_parent
}

output "source_bucket" {
  description = "Bucket holding the zipped function source (versioned)."
  value       = google_storage_bucket.source.name
}

output "source_object" {
  description = "Object of the deployed source zip, named after its MD5 hash."
  value       = google_storage_bucket_object.source.name
}

output "firestore_database" {
  description = "Firestore database holding the state."
  value       = local.firestore_database
}

output "collection" {
  description = "Top-level Firestore collection of the processes' state."
  value       = var.collection
}

output "metric_types" {
  description = "The log-based metrics, keyed as in modules/slotwork/metrics.json: the metric type of each (logging.googleapis.com/user/slotwork/<key>), for charts and alerts of the caller's own."
  value       = local.metric_types
}

output "alert_policy_names" {
  description = "Resource names (projects/<project>/alertPolicies/<id>) of the alert policies, keyed by alert: slot_unfinished, run_aborted, slots_missed, items_quarantined, tick_failures."
  value       = { for key, policy in google_monitoring_alert_policy.slotwork : key => policy.name }
}

output "dashboard_id" {
  description = "Id of the Cloud Monitoring dashboard \"slotwork\" (projects/<number>/dashboards/<id>)."
  value       = google_monitoring_dashboard.slotwork.id
}
