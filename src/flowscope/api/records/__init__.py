"""What Metaflow records about a run, a step or a task beyond statuses and times, read
from the run's graph (`_graph_info`) and a task's metadata when a page asks (issue 9).

Pure functions from those records to the API's shapes; the routes call them."""
