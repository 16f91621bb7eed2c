# This repository's own deployment: the slotwork module (modules/slotwork)
# with this repository's function source (../functions) and the processes of
# processes.auto.tfvars.json, which the local scheduler stand-in reads too.
#
#   versions.tf   Terraform and provider versions, the provider
#   variables.tf  the inputs, handed to the module as they are
#   main.tf       the module call
#   outputs.tf    the module's outputs
#   moved.tf      where resources of the pre-module layout went
#
# To deploy slotwork from another repository, call the module the same way
# (see examples/minimal and examples/full).

module "slotwork" {
  source = "./modules/slotwork"

  project_id = var.project_id
  region     = var.region
  labels     = var.labels

  source_dir       = "${path.module}/../functions"
  processes_module = "processes" # functions/processes.py
  # Example processes only when asked; the module's processes type has no
  # example field, so Terraform drops it from the objects on the way in.
  processes = { for name, p in var.processes : name => p if var.deploy_examples || !p.example }

  runtime      = var.runtime
  run_function = var.run_function
  api_function = var.api_function

  api_readers = var.api_readers
  api_writers = var.api_writers
  api_members = var.api_members
  iap_enabled = var.iap_enabled

  collection              = var.collection
  lease_seconds           = var.lease_seconds
  checkpoint              = var.checkpoint
  min_frequency_seconds   = var.min_frequency_seconds
  ttl_sweeper_collections = var.ttl_sweeper_collections

  firestore_database               = var.firestore_database
  create_firestore_database        = var.create_firestore_database
  firestore_location               = var.firestore_location
  firestore_point_in_time_recovery = var.firestore_point_in_time_recovery

  notification_channels = var.notification_channels
  alerts_enabled        = var.alerts_enabled
}
