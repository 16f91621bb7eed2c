variable "project_id" {
  description = "ID of the Google Cloud project to deploy into (billing enabled)."
  type        = string
}
