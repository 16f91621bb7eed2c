# The module's outputs, one for one (modules/slotwork/outputs.tf describes them).

output "run_function_url" {
  description = "URL of the run function (Cloud Scheduler's target and OIDC audience)."
  value       = module.slotwork.run_function_url
}

output "api_function_url" {
  description = "URL of the HTTPS API; call it with an ID token of one of api_readers or api_writers, e.g. curl -H \"Authorization: Bearer $(gcloud auth print-identity-token)\" <url>/processes."
  value       = module.slotwork.api_function_url
}

output "run_function_name" {
  description = "Name of the run function (and of its Cloud Run service)."
  value       = module.slotwork.run_function_name
}

output "api_function_name" {
  description = "Name of the api function (and of its Cloud Run service)."
  value       = module.slotwork.api_function_name
}

output "run_service_account_email" {
  description = "Service account the run function runs as (Firestore, RunJob for continuations)."
  value       = module.slotwork.run_service_account_email
}

output "api_service_account_email" {
  description = "Service account the api function runs as (Firestore, RunJob for :run)."
  value       = module.slotwork.api_service_account_email
}

output "scheduler_service_account_email" {
  description = "Service account whose OIDC tokens Cloud Scheduler sends to the run function."
  value       = module.slotwork.scheduler_service_account_email
}

output "build_service_account_email" {
  description = "Service account Cloud Build builds the functions as."
  value       = module.slotwork.build_service_account_email
}

output "scheduler_job_names" {
  description = "Full resource names of each process's Cloud Scheduler jobs, keyed by process: a list in shard order, shard k at index k (gcloud scheduler jobs run <name> ticks that shard now)."
  value       = module.slotwork.scheduler_job_names
}

output "scheduler_parent" {
  description = "projects/<project>/locations/<region>: where the jobs live (SLOTWORK_SCHEDULER_PARENT)."
  value       = module.slotwork.scheduler_parent
}

output "source_bucket" {
  description = "Bucket holding the zipped function source (versioned)."
  value       = module.slotwork.source_bucket
}

output "source_object" {
  description = "Object of the deployed source zip, named after its MD5 hash."
  value       = module.slotwork.source_object
}

output "firestore_database" {
  description = "Firestore database holding the state."
  value       = module.slotwork.firestore_database
}

output "collection" {
  description = "Top-level Firestore collection of the processes' state."
  value       = module.slotwork.collection
}

output "metric_types" {
  description = "The log-based metrics, keyed as in modules/slotwork/metrics.json: the metric type of each (logging.googleapis.com/user/slotwork/<key>), for charts and alerts of the caller's own."
  value       = module.slotwork.metric_types
}

output "alert_policy_names" {
  description = "Resource names (projects/<project>/alertPolicies/<id>) of the alert policies, keyed by alert: slot_unfinished, run_aborted, slots_missed, items_quarantined, tick_failures."
  value       = module.slotwork.alert_policy_names
}

output "dashboard_id" {
  description = "Id of the Cloud Monitoring dashboard \"slotwork\" (projects/<number>/dashboards/<id>)."
  value       = module.slotwork.dashboard_id
}
