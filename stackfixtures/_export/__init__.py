"""Exports of a profile's graph to other orchestrators: Docker Compose and Kubernetes. The
dependency order is written once, in the profile, and shows up in both."""
