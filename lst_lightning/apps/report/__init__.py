"""lst-report: the study's jobs and the markdown writer."""
