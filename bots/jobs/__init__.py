"""From admission to a delivered result: the limits and the journal (`admission`), the lanes and their
waits, what is said about a job (`notices`), the workflow and the tasks workers run, the engines (the
only door to tensors), and the runners (`runner`: embedded worker processes, or Celery workers)."""
