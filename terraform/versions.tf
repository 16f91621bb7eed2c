# Terraform and provider versions, and the provider configuration of this
# root configuration (it is applied directly, not called as a module).

terraform {
  # optional() attribute defaults need 1.3; preconditions need 1.2.
  required_version = ">= 1.3"

  required_providers {
    google = {
      source = "hashicorp/google"
      # build_config.service_account and the Firestore database arguments
      # used here exist in 6.x and 7.x.
      version = ">= 6.0, < 8"
    }
    archive = {
      source = "hashicorp/archive"
      # 2.5 added glob patterns to archive_file excludes.
      version = ">= 2.5, < 3"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}
