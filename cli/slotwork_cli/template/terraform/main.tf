# The deployment: the slotwork module with this project's function source
# (../functions) and its processes' schedules (processes.auto.tfvars.json,
# which Terraform loads by itself and `make run`'s local scheduler reads too).
# modules/slotwork/README.md lists the module's other inputs.

module "slotwork" {
  source = "./modules/slotwork"

  project_id = var.project_id
  region     = var.region

  source_dir       = "${path.module}/../functions"
  processes_module = "processes" # functions/processes.py
  processes        = var.processes

  api_readers = var.api_readers
  api_writers = var.api_writers
}
