// Package check validates the deployment artefacts offline: the helm chart
// (helm lint, then `helm template` output decoded strictly against the
// Kubernetes API types, plus ebs's own rules: probes, non-root, resources,
// PodDisruptionBudgets) and compose.yaml (loaded with compose-go, every
// service with a health check). It is a separate module, outside go.work, so
// the Kubernetes dependencies never weigh on the services; `make lint` runs it.
package check
