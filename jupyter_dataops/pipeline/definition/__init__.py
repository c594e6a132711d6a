"""What a pipeline is: the pipeline file (spec, values, dag), notebook parameters, secret references,
promoted versions and the project that holds them. No kernel runs here."""
