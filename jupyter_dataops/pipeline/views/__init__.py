"""The read side the front doors draw from: charts, run history, status and the terminal report."""
