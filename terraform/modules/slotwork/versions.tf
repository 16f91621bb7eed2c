# Terraform and provider versions the module needs. The module configures no
# provider: its caller does (see ../../versions.tf and ../../examples).

terraform {
  # 1.5 is the oldest release this module is documented for; optional()
  # attribute defaults alone would need 1.3.
  required_version = ">= 1.5"

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
