# Before the module existed these resources were declared in this directory.
# An existing deployment's state still has them at their old addresses; these
# blocks move them into the module, so the first apply after upgrading keeps
# them (the bucket, the database, the custom role) instead of replacing them.
# Safe to delete once every deployment has applied this version.
#
# Not moved, because they are replaced anyway: the Scheduler jobs (renamed
# from slotwork-<process> to slotwork-<process>-<shard>) and the one runtime
# account with its grants (now slotwork-run and slotwork-api). Not moved,
# because it is gone: the build account's project-wide storage.objectViewer.

moved {
  from = google_project_service.enabled
  to   = module.slotwork.google_project_service.enabled
}

moved {
  from = google_service_account.scheduler
  to   = module.slotwork.google_service_account.scheduler
}

moved {
  from = google_service_account.build
  to   = module.slotwork.google_service_account.build
}

moved {
  from = google_project_iam_member.build["roles/logging.logWriter"]
  to   = module.slotwork.google_project_iam_member.build_log_writer
}

moved {
  from = google_project_iam_custom_role.job_runner
  to   = module.slotwork.google_project_iam_custom_role.job_runner
}

moved {
  from = google_artifact_registry_repository_iam_member.build_writer
  to   = module.slotwork.google_artifact_registry_repository_iam_member.build_writer
}

moved {
  from = google_storage_bucket.source
  to   = module.slotwork.google_storage_bucket.source
}

moved {
  from = google_storage_bucket_object.source
  to   = module.slotwork.google_storage_bucket_object.source
}

moved {
  from = google_artifact_registry_repository.functions
  to   = module.slotwork.google_artifact_registry_repository.functions
}

moved {
  from = google_cloudfunctions2_function.run
  to   = module.slotwork.google_cloudfunctions2_function.run
}

moved {
  from = google_cloudfunctions2_function.api
  to   = module.slotwork.google_cloudfunctions2_function.api
}

moved {
  from = google_cloud_run_service_iam_member.run_invoker
  to   = module.slotwork.google_cloud_run_service_iam_member.run_invoker
}

moved {
  from = google_cloud_run_service_iam_member.api_invoker
  to   = module.slotwork.google_cloud_run_service_iam_member.api_invoker
}


moved {
  from = google_firestore_database.default
  to   = module.slotwork.google_firestore_database.slotwork
}

moved {
  from = google_firestore_index.pending_work
  to   = module.slotwork.google_firestore_index.pending_work
}
