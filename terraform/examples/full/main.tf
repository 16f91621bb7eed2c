# Every input of the module set, most of them to something other than their
# default (tests/test_terraform.py checks that none is missing but the
# deprecated api_members).

module "slotwork" {
  source = "../../modules/slotwork"

  project_id = var.project_id
  region     = "europe-west1"
  labels     = { team = "platform", env = "prod" }

  source_dir       = "${path.module}/../../../functions"
  processes_module = "processes"
  processes = {
    "ttl-sweeper" = {
      schedule                 = "*/10 * * * *"
      time_zone                = "Europe/Berlin"
      attempt_deadline_seconds = 600
      shards                   = 4 # jobs slotwork-ttl-sweeper-0 .. -3
      retry = {
        retry_count                = 2
        min_backoff_seconds        = 30
        max_backoff_seconds        = 600
        max_doublings              = 2
        max_retry_duration_seconds = 1800
      }
    }
  }

  runtime = "python312"
  # engine deadline < attempt deadline <= min(1800, timeout): 540 < 600 <= 900
  run_function = {
    timeout_seconds         = 900
    engine_deadline_seconds = 540
    memory                  = "1Gi"
    cpu                     = "1"
    max_instances           = 20
    min_instances           = 0
    ingress_settings        = "ALLOW_INTERNAL_ONLY"
  }
  api_function = {
    timeout_seconds = 120
    memory          = "512Mi"
    cpu             = "1"
    max_instances   = 10
    min_instances   = 1
  }

  # Readers may be groups; writers are named one by one (see api_writers).
  api_readers = ["group:slotwork-operators@example.com"]
  api_writers = [
    "user:oncall@example.com",
    "serviceAccount:deployer@example-project.iam.gserviceaccount.com",
  ]
  iap_enabled = false

  collection            = "slotwork"
  lease_seconds         = 180
  checkpoint            = { items = 200, seconds = 10 }
  min_frequency_seconds = 600

  ttl_sweeper_collections = ["sessions", "events"]

  firestore_database               = "slotwork" # a database of its own, and IAM confined to it
  create_firestore_database        = true
  firestore_location               = "eur3"
  firestore_point_in_time_recovery = true

  # Alerts notify the on-call channel (create it first: gcloud beta monitoring channels create).
  notification_channels = ["projects/${var.project_id}/notificationChannels/1234567890"]
  alerts_enabled        = true
}
