# Inputs of the slotwork module. Every input is typed, described and
# validated; cross-input rules are preconditions: engine deadline < attempt
# deadline <= function timeout in scheduler.tf, checkpoint interval < lease in
# functions.tf. Inputs with a default are not nullable: a caller passing null
# (as the repository's own root does for what it leaves unset) gets the default.

# ---------------------------------------------------------------------------
# Where
# ---------------------------------------------------------------------------

variable "project_id" {
  description = "ID of the Google Cloud project to deploy into (billing enabled)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID (6-30 lowercase letters, digits or hyphens, starting with a letter), not a project number or name."
  }
}

variable "region" {
  description = "Region of the functions, the Cloud Scheduler jobs, the source bucket and (by default) the Firestore database."
  type        = string
  default     = "us-central1"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Cloud region such as \"us-central1\" or \"europe-west1\"."
  }
}

variable "labels" {
  description = "Labels added to the functions, the source bucket and the artifact repository (\"app = slotwork\" is always added)."
  type        = map(string)
  default     = {}
  nullable    = false

  validation {
    condition = alltrue([
      for key, value in var.labels :
      can(regex("^[a-z][a-z0-9_-]{0,62}$", key)) && can(regex("^[a-z0-9_-]{0,63}$", value))
    ])
    error_message = "Label keys must match ^[a-z][a-z0-9_-]{0,62}$ and values ^[a-z0-9_-]{0,63}$."
  }
}

# ---------------------------------------------------------------------------
# What to deploy: the function source and its processes
# ---------------------------------------------------------------------------

variable "source_dir" {
  description = "Directory of the Cloud Functions source, zipped as is: main.py (with the run and api entry points), requirements.txt, the slotwork package and the processes module. This repository's is functions/."
  type        = string

  validation {
    condition     = fileexists("${var.source_dir}/main.py") && fileexists("${var.source_dir}/requirements.txt")
    error_message = "source_dir must be a directory holding main.py (the run and api entry points) and requirements.txt, such as this repository's functions/ directory."
  }
}

variable "processes_module" {
  description = "Python module in source_dir that exposes PROCESSES, the deployment's processes (SLOTWORK_PROCESSES)."
  type        = string
  default     = "processes"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*$", var.processes_module))
    error_message = "processes_module must be a dotted Python module name such as \"processes\" or \"jobs.processes\"."
  }
}

variable "processes" {
  description = <<-EOT
    The processes to tick, keyed by process name (each must be a process of
    processes_module). One Cloud Scheduler job "slotwork-<name>-<k>" per shard
    k = 0 .. shards-1, all on the process's schedule.
    - schedule: unix-cron tick schedule. The tick schedule lives here; the slot
      frequency lives in Firestore and is changed through the API.
    - shards: how many parallel leases a slot of the process has (1-100), each
      ticked by its own job (SLOTWORK_SHARDS tells the functions).
    - time_zone: tz database name of the schedule.
    - attempt_deadline_seconds: how long Scheduler waits for one tick (15-1800);
      must exceed the engine deadline and not exceed the run function timeout.
    - retry: Scheduler retries of a failed tick (a 5xx or a missed attempt
      deadline); max_retry_duration_seconds = 0 means no time limit.
    May be empty: the functions and the API are deployed, and nothing ticks.
  EOT
  type = map(object({
    schedule                 = string
    time_zone                = optional(string, "Etc/UTC")
    attempt_deadline_seconds = optional(number, 540)
    shards                   = optional(number, 1)
    retry = optional(object({
      retry_count                = optional(number, 3)
      min_backoff_seconds        = optional(number, 10)
      max_backoff_seconds        = optional(number, 300)
      max_doublings              = optional(number, 3)
      max_retry_duration_seconds = optional(number, 0)
    }), {})
  }))

  validation {
    # The job id "slotwork-<name>-<k>" allows [a-zA-Z0-9_-]; the name is also a Firestore document id.
    condition     = alltrue([for name in keys(var.processes) : can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$", name))])
    error_message = "Process names must be 1-100 letters, digits, '-' or '_', starting with a letter or digit."
  }

  validation {
    condition     = alltrue([for p in values(var.processes) : can(regex("^\\S+(\\s+\\S+){4}$", trimspace(p.schedule)))])
    error_message = "Each schedule must be a unix-cron expression with five fields, such as \"*/15 * * * *\"."
  }

  validation {
    condition     = alltrue([for p in values(var.processes) : length(trimspace(p.time_zone)) > 0])
    error_message = "Each time_zone must be a tz database name such as \"Etc/UTC\"."
  }

  validation {
    # Cloud Scheduler allows 15 s to 30 min for HTTP targets.
    condition = alltrue([
      for p in values(var.processes) :
      p.attempt_deadline_seconds >= 15 && p.attempt_deadline_seconds <= 1800 && floor(p.attempt_deadline_seconds) == p.attempt_deadline_seconds
    ])
    error_message = "attempt_deadline_seconds must be a whole number from 15 to 1800 (the Cloud Scheduler limit for HTTP targets)."
  }

  validation {
    condition     = alltrue([for p in values(var.processes) : p.shards >= 1 && p.shards <= 100 && floor(p.shards) == p.shards])
    error_message = "shards must be a whole number from 1 to 100."
  }

  validation {
    condition = alltrue([
      for p in values(var.processes) :
      p.retry.retry_count >= 0 && p.retry.retry_count <= 5 &&
      p.retry.min_backoff_seconds >= 0 && p.retry.max_backoff_seconds >= p.retry.min_backoff_seconds &&
      p.retry.max_doublings >= 0 && p.retry.max_doublings <= 16 &&
      p.retry.max_retry_duration_seconds >= 0
    ])
    error_message = "retry: retry_count 0-5, 0 <= min_backoff_seconds <= max_backoff_seconds, max_doublings 0-16, max_retry_duration_seconds >= 0."
  }
}

# ---------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------

variable "runtime" {
  description = "Python runtime of both functions."
  type        = string
  default     = "python311"
  nullable    = false

  validation {
    condition     = contains(["python311", "python312"], var.runtime)
    error_message = "runtime must be python311 or python312 (the versions slotwork is tested with)."
  }
}

variable "run_function" {
  description = <<-EOT
    The `run` function (one invocation = one tick of one shard of a process).
    - timeout_seconds: function timeout (max 3600 for HTTP functions).
    - engine_deadline_seconds: the tick's working budget (SLOTWORK_DEADLINE_SECONDS);
      must be below every process's attempt_deadline_seconds.
    - memory / cpu: instance size (cpu null = the default for that memory).
    - max_instances / min_instances: instance bounds (0 = scale to zero);
      max_instances must be at least every process's shards.
    - ingress_settings: network ingress. ALLOW_INTERNAL_ONLY admits Cloud Scheduler
      in the same project calling the run.app URL; invocation also needs IAM
      (only the scheduler service account has it).
  EOT
  type = object({
    timeout_seconds         = optional(number, 540)
    engine_deadline_seconds = optional(number, 480)
    memory                  = optional(string, "512Mi")
    cpu                     = optional(string)
    max_instances           = optional(number, 10)
    min_instances           = optional(number, 0)
    ingress_settings        = optional(string, "ALLOW_INTERNAL_ONLY")
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.run_function.timeout_seconds >= 60 && var.run_function.timeout_seconds <= 3600 && floor(var.run_function.timeout_seconds) == var.run_function.timeout_seconds
    error_message = "run_function.timeout_seconds must be a whole number from 60 to 3600."
  }

  validation {
    condition     = var.run_function.engine_deadline_seconds >= 10 && var.run_function.engine_deadline_seconds < var.run_function.timeout_seconds
    error_message = "run_function.engine_deadline_seconds must be at least 10 and below timeout_seconds."
  }

  validation {
    condition     = can(regex("^[0-9]+(\\.[0-9]+)?(k|M|G|Mi|Gi)$", var.run_function.memory))
    error_message = "run_function.memory must be a quantity such as \"512Mi\" or \"1Gi\"."
  }

  validation {
    condition     = var.run_function.cpu == null || can(regex("^([0-9]+(\\.[0-9]+)?|[0-9]+m)$", var.run_function.cpu))
    error_message = "run_function.cpu must be null or a CPU count such as \"1\", \"0.5\" or \"500m\"."
  }

  validation {
    condition     = var.run_function.max_instances >= 1 && var.run_function.max_instances <= 1000 && var.run_function.min_instances >= 0 && var.run_function.min_instances <= var.run_function.max_instances
    error_message = "run_function needs 1 <= max_instances <= 1000 and 0 <= min_instances <= max_instances."
  }

  validation {
    condition     = contains(["ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB", "ALLOW_ALL"], var.run_function.ingress_settings)
    error_message = "run_function.ingress_settings must be ALLOW_INTERNAL_ONLY, ALLOW_INTERNAL_AND_GCLB or ALLOW_ALL."
  }
}

variable "api_function" {
  description = <<-EOT
    The `api` function (the HTTPS API; callers need roles/run.invoker, granted to api_readers and api_writers).
    - timeout_seconds: request timeout (max 3600).
    - memory / cpu: instance size (cpu null = the default for that memory).
    - max_instances / min_instances: instance bounds (0 = scale to zero).
  EOT
  type = object({
    timeout_seconds = optional(number, 60)
    memory          = optional(string, "256Mi")
    cpu             = optional(string)
    max_instances   = optional(number, 5)
    min_instances   = optional(number, 0)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.api_function.timeout_seconds >= 1 && var.api_function.timeout_seconds <= 3600 && floor(var.api_function.timeout_seconds) == var.api_function.timeout_seconds
    error_message = "api_function.timeout_seconds must be a whole number from 1 to 3600."
  }

  validation {
    condition     = can(regex("^[0-9]+(\\.[0-9]+)?(k|M|G|Mi|Gi)$", var.api_function.memory))
    error_message = "api_function.memory must be a quantity such as \"256Mi\" or \"1Gi\"."
  }

  validation {
    condition     = var.api_function.cpu == null || can(regex("^([0-9]+(\\.[0-9]+)?|[0-9]+m)$", var.api_function.cpu))
    error_message = "api_function.cpu must be null or a CPU count such as \"1\", \"0.5\" or \"500m\"."
  }

  validation {
    condition     = var.api_function.max_instances >= 1 && var.api_function.max_instances <= 1000 && var.api_function.min_instances >= 0 && var.api_function.min_instances <= var.api_function.max_instances
    error_message = "api_function needs 1 <= max_instances <= 1000 and 0 <= min_instances <= max_instances."
  }
}

# ---------------------------------------------------------------------------
# Who may call the API
# ---------------------------------------------------------------------------

variable "api_readers" {
  description = "IAM members allowed to call the API (roles/run.invoker on the api function only) to read: the function refuses their changes unless they are also api_writers. Any member kind: user:, group:, serviceAccount:, domain:, principal:, principalSet:. Public members are rejected."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for m in var.api_readers : can(regex("^(user|group|serviceAccount|domain|principal|principalSet):.+$", m))])
    error_message = "Each api_readers entry must be an IAM member such as user:…, group:…, serviceAccount:…, domain:…, principal:… or principalSet:…."
  }

  validation {
    condition     = length(setintersection(toset(var.api_readers), toset(["allUsers", "allAuthenticatedUsers"]))) == 0
    error_message = "api_readers must not contain allUsers or allAuthenticatedUsers: the API is never public."
  }
}

variable "api_writers" {
  description = <<-EOT
    IAM members allowed to call the API and to change things through it
    (register and unregister work, settings, :pause, :resume, :run): they get
    roles/run.invoker on the api function, and their emails are passed as
    SLOTWORK_API_WRITERS, against which the function checks the email in the
    caller's verified Google ID token. Only user: and serviceAccount: members:
    an ID token carries the caller's email, not the groups or domain they
    belong to, so the function could not recognise a group: or domain: writer
    (give those api_readers, and name writers one by one).
  EOT
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for m in var.api_writers : can(regex("^(user|serviceAccount):[^:@\\s]+@[^:@\\s]+$", m))])
    error_message = "Each api_writers entry must be user:EMAIL or serviceAccount:EMAIL: an ID token names the caller by email, not by group or domain (those can be api_readers)."
  }
}

variable "api_members" {
  description = "Deprecated: the same as api_writers (and combined with it), so configurations from before api_readers and api_writers keep their meaning, full access. Holds only user: and serviceAccount: members, as api_writers; group: or domain: members move to api_readers."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for m in var.api_members : can(regex("^(user|serviceAccount):[^:@\\s]+@[^:@\\s]+$", m))])
    error_message = "api_members is deprecated and now means api_writers, which take only user:EMAIL or serviceAccount:EMAIL (the function checks writers by the email in their ID token); move group: or domain: members to api_readers (read access) and list writers one by one in api_writers."
  }
}

variable "iap_enabled" {
  description = "Whether the API is reached through Identity-Aware Proxy (SLOTWORK_TRUST_IAP): true tells the api function to take the caller's identity from the header IAP signs. Set it only when IAP fronts the API; this module does not set IAP up."
  type        = bool
  default     = false
  nullable    = false

  validation {
    condition     = var.iap_enabled != null
    error_message = "iap_enabled must be true or false."
  }
}

# ---------------------------------------------------------------------------
# Engine configuration (environment of both functions)
# ---------------------------------------------------------------------------

variable "collection" {
  description = "Top-level Firestore collection holding the processes' state (SLOTWORK_COLLECTION)."
  type        = string
  default     = "slotwork"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$", var.collection))
    error_message = "collection must be 1-100 letters, digits, '-' or '_', starting with a letter or digit."
  }
}

variable "lease_seconds" {
  description = "Lease of a tick on its process (SLOTWORK_LEASE_SECONDS): renewed at every checkpoint; a crashed tick's slot is resumed at most this long after its last checkpoint."
  type        = number
  default     = 120
  nullable    = false

  validation {
    condition     = var.lease_seconds >= 10 && var.lease_seconds <= 3600
    error_message = "lease_seconds must be from 10 to 3600."
  }
}

variable "checkpoint" {
  description = "How often a tick checkpoints (SLOTWORK_CHECKPOINT_ITEMS, SLOTWORK_CHECKPOINT_SECONDS): after this many items or seconds, whichever comes first. A crash loses at most the work since the last checkpoint; each checkpoint is one commit. items: 1-400 (one commit's worth); seconds: below lease_seconds."
  type = object({
    items   = optional(number, 400)
    seconds = optional(number, 5)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.checkpoint.items >= 1 && var.checkpoint.items <= 400 && floor(var.checkpoint.items) == var.checkpoint.items
    error_message = "checkpoint.items must be a whole number from 1 to 400."
  }

  validation {
    condition     = var.checkpoint.seconds > 0
    error_message = "checkpoint.seconds must be positive (and below lease_seconds: a precondition in functions.tf)."
  }
}

variable "ttl_sweeper_collections" {
  description = "Allow-list of the top-level Firestore collections the ttl-sweeper example process may delete documents from (SLOTWORK_TTL_SWEEPER_COLLECTIONS, comma-separated). Empty by default: the example sweeps nothing until collections are named here."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    # Collection ids: no '/', not '.' or '..', not __reserved__; no ',' (the separator).
    condition = alltrue([
      for c in var.ttl_sweeper_collections :
      can(regex("^[^/,\\s]+$", c)) && length(c) <= 1500 && !contains([".", ".."], c) && !can(regex("^__.*__$", c))
    ])
    error_message = "Each ttl_sweeper_collections entry must be a collection id of at most 1500 characters: no '/', ',' or whitespace, not '.', '..' or __name__."
  }
}

variable "min_frequency_seconds" {
  description = "Smallest slot frequency the API accepts (SLOTWORK_MIN_FREQUENCY_SECONDS). The frequency itself is set per process through the API, not here."
  type        = number
  default     = 900
  nullable    = false

  validation {
    condition     = var.min_frequency_seconds >= 60
    error_message = "min_frequency_seconds must be at least 60."
  }
}

# ---------------------------------------------------------------------------
# Firestore
# ---------------------------------------------------------------------------

variable "firestore_database" {
  description = <<-EOT
    Firestore database holding slotwork's state (SLOTWORK_DATABASE). "(default)"
    is the project's default database, shared with whatever else uses it, and
    the functions' roles/datastore.user covers every database of the project. A
    name such as "slotwork" gives slotwork a Native-mode database of its own
    and confines the functions' Firestore role to it (an IAM condition), so
    they cannot read or write other databases; workers that must touch other
    data then need grants of their own. Changing it later starts from an empty
    database: the old one and its data stay.
  EOT
  type        = string
  default     = "(default)"
  nullable    = false

  validation {
    # Firestore database ids: 4-63 lowercase letters, digits or hyphens,
    # starting with a letter and not ending with a hyphen.
    condition     = var.firestore_database == "(default)" || can(regex("^[a-z][a-z0-9-]{2,61}[a-z0-9]$", var.firestore_database))
    error_message = "firestore_database must be \"(default)\" or a database id of 4-63 lowercase letters, digits or hyphens, starting with a letter, such as \"slotwork\"."
  }
}

variable "create_firestore_database" {
  description = "Create the firestore_database in Native mode. Set false when it already exists (it must be in Native mode)."
  type        = bool
  default     = true
  nullable    = false

  validation {
    condition     = var.create_firestore_database != null
    error_message = "create_firestore_database must be true or false."
  }
}

variable "firestore_location" {
  description = "Location of the Firestore database when it is created (a region such as \"europe-west1\" or a multi-region such as \"nam5\"); null = var.region. Cannot be changed later."
  type        = string
  default     = null

  validation {
    condition     = var.firestore_location == null || can(regex("^[a-z0-9-]+$", var.firestore_location))
    error_message = "firestore_location must be null or a Firestore location id such as \"europe-west1\" or \"nam5\"."
  }
}

variable "firestore_point_in_time_recovery" {
  description = "Enable Firestore point-in-time recovery (7 days of versions) on the created database."
  type        = bool
  default     = true
  nullable    = false

  validation {
    condition     = var.firestore_point_in_time_recovery != null
    error_message = "firestore_point_in_time_recovery must be true or false."
  }
}

# ---------------------------------------------------------------------------
# Monitoring (monitoring.tf: log-based metrics, alert policies, the dashboard)
# ---------------------------------------------------------------------------

variable "notification_channels" {
  description = "Cloud Monitoring notification channels every slotwork alert policy notifies, as full ids (projects/<project>/notificationChannels/<id>; gcloud beta monitoring channels list). Empty: the alerts open incidents in the console and notify no one."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for c in var.notification_channels : can(regex("^projects/[^/]+/notificationChannels/[^/]+$", c))])
    error_message = "Each notification_channels entry must be a channel id such as \"projects/my-project/notificationChannels/1234567890\"."
  }
}

variable "alerts_enabled" {
  description = "Whether the slotwork alert policies are enabled. false keeps them (and their documentation) in the project but evaluates none, so no incident opens and no one is notified; the log-based metrics and the dashboard stay either way."
  type        = bool
  default     = true
  nullable    = false

  validation {
    condition     = var.alerts_enabled != null
    error_message = "alerts_enabled must be true or false."
  }
}
