"""Running a pipeline unattended: the scheduler service, schedules and their status, retention, and
the Airflow export."""
