"""Cloud Functions entry points (functions-framework targets): ``run`` and ``api``."""
