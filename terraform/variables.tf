# Inputs of this repository's own deployment. Each one but deploy_examples is
# handed to the module (modules/slotwork) as is, with the same type (processes
# adds the root's example field); the module describes and validates it in full
# (modules/slotwork/variables.tf), and null means the module's default.
# tests/test_terraform.py checks that the types agree.

# ---------------------------------------------------------------------------
# Where
# ---------------------------------------------------------------------------

variable "project_id" {
  description = "ID of the Google Cloud project to deploy into (billing enabled)."
  type        = string
}

variable "region" {
  description = "Region of the functions, Scheduler jobs, source bucket and image repository (and of Firestore unless firestore_location). Null: us-central1."
  type        = string
  default     = null
}

variable "labels" {
  description = "Labels added to the functions, the source bucket and the image repository. Null: none (app = slotwork is always added)."
  type        = map(string)
  default     = null
}

# ---------------------------------------------------------------------------
# Processes and their ticks (processes.auto.tfvars.json, also read by the local scheduler stand-in)
# ---------------------------------------------------------------------------

variable "processes" {
  description = "The processes of functions/processes.py and their tick schedules, keyed by name; set in processes.auto.tfvars.json, which Terraform loads automatically. As the module's processes input, plus example: true marks an example process, deployed only with deploy_examples."
  type = map(object({
    schedule                 = string
    time_zone                = optional(string, "Etc/UTC")
    attempt_deadline_seconds = optional(number, 540)
    shards                   = optional(number, 1)
    example                  = optional(bool, false) # the root's own: not a module field
    retry = optional(object({
      retry_count                = optional(number, 3)
      min_backoff_seconds        = optional(number, 10)
      max_backoff_seconds        = optional(number, 300)
      max_doublings              = optional(number, 3)
      max_retry_duration_seconds = optional(number, 0)
    }), {})
  }))
}

variable "deploy_examples" {
  description = "Deploy the Scheduler jobs of example processes (example = true in processes.auto.tfvars.json, such as ttl-sweeper) too. Off by default: a production deployment ticks only its own processes, while the local stack runs every process of the file."
  type        = bool
  default     = false
  nullable    = false

  validation {
    condition     = var.deploy_examples != null
    error_message = "deploy_examples must be true or false."
  }
}

# ---------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------

variable "runtime" {
  description = "Python runtime of both functions. Null: python311."
  type        = string
  default     = null
}

variable "run_function" {
  description = "Size, timeout, engine deadline and ingress of the run function. Null: the module's defaults."
  type = object({
    timeout_seconds         = optional(number, 540)
    engine_deadline_seconds = optional(number, 480)
    memory                  = optional(string, "512Mi")
    cpu                     = optional(string)
    max_instances           = optional(number, 10)
    min_instances           = optional(number, 0)
    ingress_settings        = optional(string, "ALLOW_INTERNAL_ONLY")
  })
  default = null
}

variable "api_function" {
  description = "Size and timeout of the api function. Null: the module's defaults."
  type = object({
    timeout_seconds = optional(number, 60)
    memory          = optional(string, "256Mi")
    cpu             = optional(string)
    max_instances   = optional(number, 5)
    min_instances   = optional(number, 0)
  })
  default = null
}

# ---------------------------------------------------------------------------
# Who may call the API
# ---------------------------------------------------------------------------

variable "api_readers" {
  description = "IAM members who may call the API to read (any member kind). Null: none."
  type        = list(string)
  default     = null
}

variable "api_writers" {
  description = "IAM members who may call the API and change things through it (user: and serviceAccount: only). Null: none."
  type        = list(string)
  default     = null
}

variable "api_members" {
  description = "Deprecated: the same as api_writers. Null: none."
  type        = list(string)
  default     = null
}

variable "iap_enabled" {
  description = "Whether IAP fronts the API (SLOTWORK_TRUST_IAP). Null: false."
  type        = bool
  default     = null
}

# ---------------------------------------------------------------------------
# Engine configuration
# ---------------------------------------------------------------------------

variable "collection" {
  description = "Top-level Firestore collection of the processes' state (SLOTWORK_COLLECTION). Null: slotwork."
  type        = string
  default     = null
}

variable "lease_seconds" {
  description = "Lease of a tick on its process (SLOTWORK_LEASE_SECONDS). Null: 120."
  type        = number
  default     = null
}

variable "checkpoint" {
  description = "Checkpoint interval in items and seconds. Null: 400 items or 5 s."
  type = object({
    items   = optional(number, 400)
    seconds = optional(number, 5)
  })
  default = null
}

variable "ttl_sweeper_collections" {
  description = "Collections the ttl-sweeper example may sweep (SLOTWORK_TTL_SWEEPER_COLLECTIONS). Null: none."
  type        = list(string)
  default     = null
}

variable "min_frequency_seconds" {
  description = "Smallest slot frequency the API accepts (SLOTWORK_MIN_FREQUENCY_SECONDS). Null: 900."
  type        = number
  default     = null
}

# ---------------------------------------------------------------------------
# Firestore
# ---------------------------------------------------------------------------

variable "firestore_database" {
  description = "Firestore database of slotwork's state: (default), or a database of its own such as slotwork (SLOTWORK_DATABASE). Null: (default)."
  type        = string
  default     = null
}

variable "create_firestore_database" {
  description = "Create the Firestore database (false: the project already has it). Null: true."
  type        = bool
  default     = null
}

variable "firestore_location" {
  description = "Location of the created database. Null: region."
  type        = string
  default     = null
}

variable "firestore_point_in_time_recovery" {
  description = "Point-in-time recovery on the created database. Null: true."
  type        = bool
  default     = null
}

# ---------------------------------------------------------------------------
# Monitoring
# ---------------------------------------------------------------------------

variable "notification_channels" {
  description = "Notification channels of the alert policies (projects/<project>/notificationChannels/<id>). Null: none (incidents only)."
  type        = list(string)
  default     = null
}

variable "alerts_enabled" {
  description = "Whether the alert policies are enabled. Null: true."
  type        = bool
  default     = null
}
