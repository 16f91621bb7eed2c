# Metrics, alerts and a dashboard, all built from the engine's structured log
# lines (one JSON object per line on stdout; see functions/slotwork/logs.py).
# Log-based metrics are counted by Cloud Logging as the lines arrive, so they
# need nothing running: a function throttled or scaled to zero between ticks
# loses no data point, where an in-process exporter would lose what it had
# not flushed.
#
# The metrics are defined once, in metrics.json (tests/test_metrics.py reads
# the same file and evaluates every filter and extractor against real log
# lines of the engine). Names: slotwork/<key>, metric type
# logging.googleapis.com/user/slotwork/<key>.

locals {
  metric_catalog = jsondecode(file("${path.module}/metrics.json"))
  metric_prefix  = local.metric_catalog.prefix

  # Which entries each metric reads: the run function's structured lines
  # ("engine"), or Cloud Run's request log of the same service ("requests").
  log_sources = {
    for source, filter in local.metric_catalog.sources :
    source => replace(replace(filter, "{run_service}", local.run_function_name), "{project}", var.project_id)
  }

  metrics = {
    for key, m in local.metric_catalog.metrics : key => {
      name         = "${local.metric_prefix}${key}"
      display_name = m.display_name
      description  = m.description
      filter       = "${local.log_sources[m.source]} AND (${m.filter})"
      distribution = m.kind == "distribution"
      value        = try(m.value, null)
      bounds       = try(m.bounds, [])
      unit         = m.unit
      labels       = m.labels
    }
  }
}

resource "google_logging_metric" "slotwork" {
  for_each = local.metrics

  project     = var.project_id
  name        = each.value.name
  description = each.value.description
  filter      = each.value.filter

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = each.value.distribution ? "DISTRIBUTION" : "INT64"
    unit         = each.value.unit
    display_name = each.value.display_name

    dynamic "labels" {
      for_each = each.value.labels
      content {
        key         = labels.value
        value_type  = "STRING"
        description = local.metric_catalog.labels[labels.value].description
      }
    }
  }

  label_extractors = { for label in each.value.labels : label => local.metric_catalog.labels[label].extractor }
  value_extractor  = each.value.value

  dynamic "bucket_options" {
    for_each = each.value.distribution ? [each.value.bounds] : []
    content {
      explicit_buckets {
        bounds = bucket_options.value
      }
    }
  }

  depends_on = [google_project_service.enabled]
}

locals {
  # Referencing the created metric (not just its name) makes each alert wait
  # for its metric.
  metric_types = {
    for key, metric in google_logging_metric.slotwork : key => "logging.googleapis.com/user/${metric.name}"
  }
  # PromQL's spelling of a metric type: the first "/" becomes ":", the other
  # "/" and "." become "_" (Cloud Monitoring's mapping to PromQL).
  promql_names = {
    for key in keys(local.metrics) : key => "logging_googleapis_com:user_${replace(local.metric_prefix, "/", "_")}${key}"
  }
}

# ---------------------------------------------------------------------------
# Alerts. Each condition counts log-based metric points over a window and
# fires on the first one; evaluation_missing_data = INACTIVE closes the
# incident once the window holds no more (log-based metrics write no point
# while nothing is logged). Grouped by process, so each process gets its own
# incident, named in the subject.
# ---------------------------------------------------------------------------

locals {
  alerts = {
    slot_unfinished = {
      display_name = "slotwork: a slot ended unfinished"
      severity     = "ERROR"
      metric       = "slots_unfinished"
      extra_filter = ""
      aligner      = "ALIGN_SUM"
      reducer      = "REDUCE_SUM"
      group_by     = ["metric.label.process"]
      window       = 600
      threshold    = 0
      subject      = "slotwork: a slot of $${metric.label.process} ended unfinished"
      content      = <<-EOT
        A slot of process `$${metric.label.process}` ended before its run processed every
        item. The run was closed INCOMPLETE when the next slot's run started; the items it
        did not reach were not processed in that slot (each is processed in the next one).

        What to do:
        1. How much was left: `gcloud logging read 'jsonPayload.event="run" AND jsonPayload.unfinished=true AND jsonPayload.process="$${metric.label.process}"' --limit=5`
           (`items_left`), or `GET $API/processes/$${metric.label.process}/runs`.
        2. Look at the process's ticks on the slotwork dashboard: `busy` (a lease held by a
           stuck tick), `paused`, 5xx answers or missed slots mean the slot lost time to
           something other than work; fix that first.
        3. If the work no longer fits the slot: give the process more shards (`shards` in
           `processes`, one parallel lease each), more `concurrency`, a worker that is
           faster per item, or a longer slot (`PATCH $API/processes/$${metric.label.process}`
           with `scheduleFrequency`). The items-processed and run-duration charts show the
           rate against the slot length.
      EOT
    }

    run_aborted = {
      display_name = "slotwork: a run aborted"
      severity     = "ERROR"
      metric       = "runs"
      extra_filter = "metric.label.state=\"ABORTED\""
      aligner      = "ALIGN_SUM"
      reducer      = "REDUCE_SUM"
      group_by     = ["metric.label.process"]
      window       = 600
      threshold    = 0
      subject      = "slotwork: a run of $${metric.label.process} aborted"
      content      = <<-EOT
        A run of process `$${metric.label.process}` had more errors than its error budget
        (`ErrorBudget.per_run`) and was aborted: its remaining items wait for the next slot.

        What to do:
        1. Read the errors: `GET $API/processes/$${metric.label.process}` (the run's latest
           errors and stats) or `gcloud logging read 'resource.labels.service_name="${local.run_function_name}" AND jsonPayload.process="$${metric.label.process}" AND severity>=WARNING' --limit=50`.
        2. Fix the cause: usually a dependency of the worker that is down, or a worker bug
           after a deploy (roll back: see "Roll back" in terraform/README.md).
        3. After `pause_after_aborts` aborted runs in a row the process pauses itself; once
           fixed, resume it: `POST $API/processes/$${metric.label.process}:resume`. To run the
           items now instead of at the next slot: `POST $API/processes/$${metric.label.process}:run`.
      EOT
    }

    slots_missed = {
      display_name = "slotwork: slots missed"
      severity     = "WARNING"
      metric       = "slots_missed"
      extra_filter = ""
      # Every missed_slots line counts at least one slot, so any percentile of a
      # window that holds one is at least 1; a window without one has no point.
      aligner   = "ALIGN_PERCENTILE_99"
      reducer   = "REDUCE_MAX"
      group_by  = ["metric.label.process"]
      window    = 600
      threshold = 0
      subject   = "slotwork: $${metric.label.process} missed slots"
      content   = <<-EOT
        Process `$${metric.label.process}` went through one or more whole slots without a
        run: no tick claimed it during them. Missed slots are not replayed; the run that
        started now processes every item once (the log line's `missed` says how many).

        What to do:
        1. Check that its Scheduler jobs exist, are ENABLED and succeed:
           `gcloud scheduler jobs describe ${local.job_id_prefix}$${metric.label.process}-0 --location=${var.region}`
           (`state`, `status`, `lastAttemptTime`). Terraform owns the jobs: a paused job is
           resumed by `terraform apply`.
        2. Check the ticks: 5xx answers (the "ticks failing" alert), or a process paused
           through the API (`GET $API/processes/$${metric.label.process}`: `paused`,
           `pauseReason`), which makes every tick return `paused`.
        3. A tick schedule less frequent than the slot (`schedule` in `processes` against the
           process's `scheduleFrequency`) misses slots by design: tick at least once a slot.
      EOT
    }

    items_quarantined = {
      display_name = "slotwork: items quarantined"
      severity     = "WARNING"
      metric       = "items_quarantined"
      extra_filter = ""
      aligner      = "ALIGN_SUM"
      reducer      = "REDUCE_SUM"
      group_by     = ["metric.label.process"]
      window       = 600
      threshold    = 0
      subject      = "slotwork: $${metric.label.process} quarantined items"
      content      = <<-EOT
        Items of process `$${metric.label.process}` failed in `quarantine_after` slots in a
        row and were set aside: they are not processed again until released.

        What to do:
        1. List them and read their last errors: `GET $API/processes/$${metric.label.process}/work?state=quarantined`
           (or `gcloud logging read 'jsonPayload.event="quarantined" AND jsonPayload.process="$${metric.label.process}"'`,
           whose `item` and `reason` name each one).
        2. Fix the item (its params: `PUT` it again) or the worker.
        3. Release each one so it runs in the next slot: `POST $API/processes/$${metric.label.process}/work/ITEM:release`
           (or `work:batchRelease` for many), or unregister it (`DELETE`) if it should not exist.
      EOT
    }

    tick_failures = {
      display_name = "slotwork: ticks failing with 5xx"
      severity     = "ERROR"
      metric       = "tick_failures"
      extra_filter = ""
      aligner      = "ALIGN_SUM"
      reducer      = "REDUCE_SUM"
      group_by     = []
      # Cloud Scheduler retries a 5xx (retry_count, 3 by default), so one
      # transient failure is absorbed; three in an hour is a tick that failed
      # for good, or a fault that keeps coming back.
      window    = 3600
      threshold = 2
      subject   = "slotwork: ${local.run_function_name} answers ticks with 5xx"
      content   = <<-EOT
        The run function (`${local.run_function_name}`) answered at least three ticks with a
        5xx within an hour. Cloud Scheduler retries each one per its retry policy; a tick
        whose retries all fail does no work until the next scheduled tick.

        What to do:
        1. Find the cause: `gcloud logging read 'resource.labels.service_name="${local.run_function_name}" AND severity>=ERROR' --limit=20`.
           - `tick failed` with `status` 503: Firestore was unreachable; transient unless
             it persists (check the Firestore status page and quotas).
           - `configuration error` or `the function could not start`: every request fails
             until the environment is fixed; the line names the variable. Fix it in
             Terraform and apply.
           - a traceback: a bug in the engine or a worker; roll back the code (see
             "Roll back" in terraform/README.md).
           - no slotwork line, status 504 or 500 in the request log: the function timed out or
             was killed (memory); compare `engine_deadline_seconds` with `timeout_seconds`
             and the function's memory.
        2. Watch the slotwork dashboard: the unfinished and missed alerts follow if the
           failures outlast a slot.
      EOT
    }
  }
}

locals {
  alert_footer = <<-EOT
    `$API` is the api function's URL (`terraform output -raw api_function_url`); call it
    with `-H "Authorization: Bearer $(gcloud auth print-identity-token)"` as one of
    api_readers (to read) or api_writers (to change). The "slotwork" dashboard charts every
    metric per process; terraform/README.md ("Metrics, alerts and the dashboard") lists them.
  EOT
}

resource "google_monitoring_alert_policy" "slotwork" {
  for_each = local.alerts

  project               = var.project_id
  display_name          = each.value.display_name
  combiner              = "OR"
  enabled               = var.alerts_enabled
  severity              = each.value.severity
  notification_channels = var.notification_channels
  user_labels           = local.labels

  documentation {
    subject   = each.value.subject
    content   = "${each.value.content}\n${local.alert_footer}"
    mime_type = "text/markdown"
  }

  conditions {
    display_name = each.value.display_name

    condition_threshold {
      filter = join(" AND ", compact([
        "metric.type=\"${local.metric_types[each.value.metric]}\"",
        "resource.type=\"cloud_run_revision\"",
        each.value.extra_filter,
      ]))
      comparison              = "COMPARISON_GT"
      threshold_value         = each.value.threshold
      duration                = "0s"
      evaluation_missing_data = "EVALUATION_MISSING_DATA_INACTIVE"

      aggregations {
        alignment_period     = "${each.value.window}s"
        per_series_aligner   = each.value.aligner
        cross_series_reducer = each.value.reducer
        group_by_fields      = each.value.group_by
      }

      trigger {
        count = 1
      }
    }
  }

  depends_on = [google_project_service.enabled]
}

# ---------------------------------------------------------------------------
# Dashboard "slotwork": every metric, one chart each, a series per process.
# Counts are summed per hour; distributions of counts (items, slots missed)
# are summed with PromQL, the one query language of dashboards that reads a
# distribution's sum (its _sum series); durations and lag show the median and
# 95th percentile.
# ---------------------------------------------------------------------------

locals {
  dashboard_charts = [
    { metric = "ticks", title = "Ticks by outcome (per hour)", query = "count", group_by = ["process", "outcome"] },
    { metric = "tick_failures", title = "Ticks answered 5xx (per hour)", query = "count", group_by = ["status"] },
    { metric = "items_processed", title = "Items processed (last hour)", query = "sum", group_by = ["process"] },
    { metric = "items_retried", title = "Item retries (last hour)", query = "sum", group_by = ["process"] },
    { metric = "items_failed", title = "Items failed in finished runs (last hour)", query = "sum", group_by = ["process"] },
    { metric = "items_quarantined", title = "Items quarantined (per hour)", query = "count", group_by = ["process"] },
    { metric = "runs", title = "Runs by state (per hour)", query = "count", group_by = ["process", "state"] },
    { metric = "run_duration", title = "Run duration (s, median and p95)", query = "percentiles", group_by = ["process"] },
    { metric = "slot_lag", title = "Slot lag (s, median and p95; negative = early)", query = "percentiles", group_by = ["process"] },
    { metric = "slots_unfinished", title = "Slots ended unfinished (per hour)", query = "count", group_by = ["process"] },
    { metric = "items_left", title = "Items left by closed runs (last hour)", query = "sum", group_by = ["process"] },
    { metric = "slots_missed", title = "Slots missed (last hour)", query = "sum", group_by = ["process"] },
  ]

  dashboard_widgets = [
    for chart in local.dashboard_charts : {
      title = chart.title
      xyChart = {
        chartOptions = { mode = "COLOR" }
        yAxis        = { scale = "LINEAR" }
        dataSets = {
          count = [{
            plotType           = "STACKED_BAR"
            minAlignmentPeriod = "3600s"
            timeSeriesQuery = {
              timeSeriesFilter = {
                filter = "metric.type=\"${local.metric_types[chart.metric]}\" AND resource.type=\"cloud_run_revision\""
                aggregation = {
                  alignmentPeriod    = "3600s"
                  perSeriesAligner   = "ALIGN_SUM"
                  crossSeriesReducer = "REDUCE_SUM"
                  groupByFields      = [for label in chart.group_by : "metric.label.${label}"]
                }
              }
            }
          }]
          sum = [{
            plotType = "LINE"
            timeSeriesQuery = {
              prometheusQuery = "sum by (${join(", ", chart.group_by)}) (increase(${local.promql_names[chart.metric]}_sum{monitored_resource=\"cloud_run_revision\"}[1h]))"
            }
          }]
          percentiles = [
            for percentile in ["50", "95"] : {
              plotType           = "LINE"
              minAlignmentPeriod = "3600s"
              timeSeriesQuery = {
                timeSeriesFilter = {
                  filter = "metric.type=\"${local.metric_types[chart.metric]}\" AND resource.type=\"cloud_run_revision\""
                  aggregation = {
                    alignmentPeriod    = "3600s"
                    perSeriesAligner   = "ALIGN_DELTA"
                    crossSeriesReducer = "REDUCE_PERCENTILE_${percentile}"
                    groupByFields      = [for label in chart.group_by : "metric.label.${label}"]
                  }
                }
              }
            }
          ]
        }[chart.query]
      }
    }
  ]
}

resource "google_monitoring_dashboard" "slotwork" {
  project = var.project_id
  dashboard_json = jsonencode({
    displayName = "slotwork"
    gridLayout = {
      columns = 2
      widgets = local.dashboard_widgets
    }
  })

  depends_on = [google_project_service.enabled]
}
