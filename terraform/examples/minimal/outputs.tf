output "api_function_url" {
  description = "URL of the HTTPS API."
  value       = module.slotwork.api_function_url
}

output "scheduler_job_names" {
  description = "The Cloud Scheduler jobs of each process."
  value       = module.slotwork.scheduler_job_names
}
