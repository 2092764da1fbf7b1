"""The support policy as data (config/policy.yaml) and the step that applies it to a request."""
