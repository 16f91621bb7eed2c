# The Firestore database and the composite indexes of the code's queries
# (slotwork.indexes.COMPOSITE_INDEXES; tests/test_terraform.py checks that the
# two agree, in both directions).

resource "google_firestore_database" "slotwork" {
  count = var.create_firestore_database ? 1 : 0

  project                           = var.project_id
  name                              = var.firestore_database # SLOTWORK_DATABASE
  location_id                       = local.firestore_location
  type                              = "FIRESTORE_NATIVE"
  app_engine_integration_mode       = "DISABLED"
  point_in_time_recovery_enablement = var.firestore_point_in_time_recovery ? "POINT_IN_TIME_RECOVERY_ENABLED" : "POINT_IN_TIME_RECOVERY_DISABLED"

  # The state of every process lives here: neither the console nor
  # `terraform destroy` deletes it (destroy only forgets the database).
  delete_protection_state = "DELETE_PROTECTION_ENABLED"
  deletion_policy         = "ABANDON"

  depends_on = [google_project_service.enabled]
}

locals {
  # A reference to the created database (so indexes wait for it), or the
  # existing one when create_firestore_database = false.
  firestore_database = var.create_firestore_database ? google_firestore_database.slotwork[0].name : var.firestore_database
}

# slotwork.indexes.PENDING_WORK: pending items of one unsharded process,
#   {collection}/{process}/work where list in [ACTIVE, CLEANUP] and done_slot < slot
#   order by list descending (cleanup first), done_slot, __name__
# The query runs on one process's subcollection, so the scope is COLLECTION
# (collection id "work"). __name__ is written out: Firestore appends it to
# every composite index anyway, and stating it keeps plans free of diffs.
resource "google_firestore_index" "pending_work" {
  project     = var.project_id
  database    = local.firestore_database
  collection  = "work"
  query_scope = "COLLECTION"

  fields {
    field_path = "list"
    order      = "DESCENDING"
  }

  fields {
    field_path = "done_slot"
    order      = "ASCENDING"
  }

  fields {
    field_path = "__name__"
    order      = "ASCENDING"
  }

  depends_on = [google_project_service.enabled]
}

# slotwork.indexes.PENDING_SHARD_WORK: pending items of one shard, the same
# filters and bucket >= low and bucket < high, ordered by bucket after done_slot.
resource "google_firestore_index" "pending_shard_work" {
  project     = var.project_id
  database    = local.firestore_database
  collection  = "work"
  query_scope = "COLLECTION"

  fields {
    field_path = "list"
    order      = "DESCENDING"
  }

  fields {
    field_path = "done_slot"
    order      = "ASCENDING"
  }

  fields {
    field_path = "bucket"
    order      = "ASCENDING"
  }

  fields {
    field_path = "__name__"
    order      = "ASCENDING"
  }

  depends_on = [google_project_service.enabled]
}
