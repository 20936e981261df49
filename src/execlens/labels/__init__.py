"""Human labels of runs and the judge-human agreement report."""
