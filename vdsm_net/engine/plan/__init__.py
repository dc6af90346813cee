"""The planner: the ordered ops that turn the observed kernel into the target."""
