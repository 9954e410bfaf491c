# The walkthrough's Example 1 without the injector webhook: `bao agent -config=kubernetes-agent.hcl`
# (or `vault agent`) logs in to vaultlet with the pod's service-account token (Kubernetes auth,
# role "my-app") and keeps ./secrets/aws rendered with fresh AWS keys from aws/creds/my-app-role.
# In a pod, token_path is /var/run/secrets/kubernetes.io/serviceaccount/token (the default when
# token_path is left out) and the destination /vault/secrets/aws. The address comes from VAULT_ADDR.

pid_file = "./agent-k8s.pid"

auto_auth {
  method "kubernetes" {
    mount_path = "auth/kubernetes"

    config = {
      role       = "my-app"
      token_path = "./service-account-token"
    }
  }

  sink "file" {
    config = {
      path = "./agent-k8s-token"
      mode = 0600
    }
  }
}

template_config {
  # Fail loudly instead of retrying forever when vaultlet refuses a request.
  exit_on_retry_failure = true
}

template {
  source      = "./my-app-aws.ctmpl"
  destination = "./secrets/aws"
  perms       = "0600"
}
