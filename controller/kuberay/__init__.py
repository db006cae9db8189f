"""KubeRay: the Kubernetes API seam, the manifests of the kustomize base, RayService status and RayJobs."""
