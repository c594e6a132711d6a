"""What watches runs: alerts, OpenLineage events and operations SPC. Attached to every run in one
place (the runner's lifecycle), whichever door started it."""
