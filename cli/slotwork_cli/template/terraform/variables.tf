variable "project_id" {
  description = "ID of the Google Cloud project to deploy into (billing enabled)."
  type        = string
}

variable "region" {
  description = "Region of the functions, the Cloud Scheduler jobs and the Firestore database."
  type        = string
  default     = "us-central1"
}

variable "processes" {
  description = "The processes of functions/processes.py and their tick schedules, keyed by name (set in processes.auto.tfvars.json); modules/slotwork/variables.tf describes each field."
  type = map(object({
    schedule                 = string
    time_zone                = optional(string, "Etc/UTC")
    attempt_deadline_seconds = optional(number, 540)
    shards                   = optional(number, 1)
    retry = optional(object({
      retry_count                = optional(number, 3)
      min_backoff_seconds        = optional(number, 10)
      max_backoff_seconds        = optional(number, 300)
      max_doublings              = optional(number, 3)
      max_retry_duration_seconds = optional(number, 0)
    }), {})
  }))
}

variable "api_readers" {
  description = "IAM members who may call the API to read, such as \"user:me@example.com\"."
  type        = list(string)
  default     = []
}

variable "api_writers" {
  description = "IAM members who may call the API and change things through it (user: and serviceAccount: only)."
  type        = list(string)
  default     = []
}
