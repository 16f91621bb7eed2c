# One Cloud Scheduler job per process and shard (local.jobs, main.tf): every
# tick POSTs {"process": NAME, "shard": K} to the `run` function with an OIDC
# token of the scheduler service account. All shards of a process share its
# schedule, deadline and retry policy.
#
# Terraform owns the tick schedule only. The slot frequency, the process's
# settings and pausing live in Firestore and are changed through the API,
# which never edits these jobs (it only runs them), so an apply does not
# undo what the API did.
#
# Deadlines nest, innermost first:
#   engine deadline (SLOTWORK_DEADLINE_SECONDS: the tick stops itself)
#   < attempt deadline (Scheduler stops waiting and, per retry_config, retries)
#   <= min(1800, run function timeout) (Scheduler's HTTP limit; the platform's)
# A retry that overlaps a tick still running finds its live lease ("busy").

resource "google_cloud_scheduler_job" "tick" {
  for_each = local.jobs

  project     = var.project_id
  region      = var.region
  name        = each.key
  description = "slotwork: tick of shard ${each.value.shard} of process ${each.value.process} (continuations and the API's :run call RunJob on this job)."
  schedule    = each.value.schedule
  time_zone   = each.value.time_zone

  attempt_deadline = "${each.value.attempt_deadline_seconds}s"

  retry_config {
    retry_count          = each.value.retry.retry_count
    min_backoff_duration = "${each.value.retry.min_backoff_seconds}s"
    max_backoff_duration = "${each.value.retry.max_backoff_seconds}s"
    max_doublings        = each.value.retry.max_doublings
    max_retry_duration   = "${each.value.retry.max_retry_duration_seconds}s"
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.run.service_config[0].uri
    body        = base64encode(jsonencode({ process = each.value.process, shard = each.value.shard }))
    headers = {
      "Content-Type" = "application/json"
    }

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = google_cloudfunctions2_function.run.service_config[0].uri
    }
  }

  lifecycle {
    precondition {
      condition     = var.run_function.engine_deadline_seconds < each.value.attempt_deadline_seconds
      error_message = "Process ${each.value.process}: run_function.engine_deadline_seconds (${var.run_function.engine_deadline_seconds}) must be below attempt_deadline_seconds (${each.value.attempt_deadline_seconds}), or Scheduler gives up on ticks that are still working."
    }
    precondition {
      # All shards of a process tick at the same moment, one instance each
      # (max_instance_request_concurrency = 1): fewer instances would turn
      # some of those ticks into 429s and Scheduler retries.
      condition     = each.value.shards <= var.run_function.max_instances
      error_message = "Process ${each.value.process}: shards (${each.value.shards}) must not exceed run_function.max_instances (${var.run_function.max_instances}), or its shards cannot all tick at once."
    }
    precondition {
      condition     = each.value.attempt_deadline_seconds <= min(1800, var.run_function.timeout_seconds)
      error_message = "Process ${each.value.process}: attempt_deadline_seconds (${each.value.attempt_deadline_seconds}) must not exceed min(1800, run_function.timeout_seconds = ${var.run_function.timeout_seconds})."
    }
  }

  depends_on = [
    google_project_service.enabled,
    google_cloud_run_service_iam_member.run_invoker,
  ]
}
