output "run_function_url" {
  description = "URL of the run function."
  value       = module.slotwork.run_function_url
}

output "api_function_url" {
  description = "URL of the HTTPS API."
  value       = module.slotwork.api_function_url
}

output "scheduler_job_names" {
  description = "The Cloud Scheduler jobs of each process."
  value       = module.slotwork.scheduler_job_names
}

output "firestore_database" {
  description = "The Firestore database holding the state."
  value       = module.slotwork.firestore_database
}

output "alert_policy_names" {
  description = "The alert policies, by alert."
  value       = module.slotwork.alert_policy_names
}

output "dashboard_id" {
  description = "The Cloud Monitoring dashboard of the deployment."
  value       = module.slotwork.dashboard_id
}
