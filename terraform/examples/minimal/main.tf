# The smallest useful deployment: the module's defaults (region us-central1,
# the project's (default) Firestore database, created in Native mode), this
# repository's function source, and one process ticking every 15 minutes.
# Nobody may call the API until api_readers or api_writers name someone.

module "slotwork" {
  source = "../../modules/slotwork"

  project_id = var.project_id
  source_dir = "${path.module}/../../../functions"

  processes = {
    "ttl-sweeper" = { schedule = "*/15 * * * *" }
  }
}
