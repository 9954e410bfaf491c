# `bao agent -config=agent-jwt.hcl`: log in to vaultlet with a JWT (a CI job's OIDC token, or any
# token the `jwt` auth method's role accepts) read from ./job.jwt, then keep ./aws-env.sh
# rendered with fresh AWS keys. The address comes from VAULT_ADDR.

pid_file = "./agent.pid"

auto_auth {
  method "jwt" {
    mount_path = "auth/jwt"

    config = {
      path                     = "./job.jwt"
      role                     = "gha-deploy"
      remove_jwt_after_reading = false
    }
  }

  sink "file" {
    config = {
      path = "./agent-token"
      mode = 0600
    }
  }
}

template_config {
  exit_on_retry_failure = true
}

template {
  source      = "./aws-env.ctmpl"
  destination = "./aws-env.sh"
  perms       = "0600"
}
