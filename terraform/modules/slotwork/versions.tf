# Terraform and provider versions the module needs. The module configures no
# provider: its caller does (see ../../versions.tf and ../../examples).

terraform {
  # 1.5 is the oldest release this module is documented for; optional()
  # attribute defaults alone would need 1.3.
  required_version = ">= 1.5"

  required_providers {
    # Every block here is checked offline against these providers' schemas
    # (terraform/provider-schema.json: google 6.50.0, archive 2.7.1, see
    # tests/test_terraform_schema.py), so the constraints admit those releases
    # and later ones of the same major version (which, by the providers'
    # versioning policy, remove nothing).
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
