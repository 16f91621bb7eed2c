output "api_function_url" {
  description = "URL of the HTTPS API (slotwork --url)."
  value       = module.slotwork.api_function_url
}

output "run_function_url" {
  description = "URL of the run function, which Cloud Scheduler calls."
  value       = module.slotwork.run_function_url
}

output "scheduler_job_names" {
  description = "The Cloud Scheduler jobs of each process, in shard order."
  value       = module.slotwork.scheduler_job_names
}
