# Terraform and provider versions of this repository's own deployment, and
# the provider configuration (the module configures none).

terraform {
  # 1.5 is the oldest release this deployment is documented for.
  required_version = ">= 1.5"

  # As the module (modules/slotwork/versions.tf says why).
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.50"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.7"
    }
  }
}

# Every resource of the module names its project and location itself; the
# project here is for the provider's own calls.
provider "google" {
  project = var.project_id
}
