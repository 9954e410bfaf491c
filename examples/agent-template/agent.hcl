# `bao agent -config=agent.hcl` (OpenBao) or `vault agent -config=agent.hcl` (Vault):
# log in to vaultlet with AppRole, then keep ./aws-env.sh rendered with fresh AWS keys.
# The address comes from VAULT_ADDR; paths are relative to the working directory.

pid_file = "./agent.pid"

auto_auth {
  method "approle" {
    mount_path = "auth/approle"

    config = {
      role_id_file_path                   = "./role-id"
      secret_id_file_path                 = "./secret-id"
      remove_secret_id_file_after_reading = false
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
  # Fail loudly instead of retrying forever when vaultlet refuses a request.
  exit_on_retry_failure = true
}

template {
  source      = "./aws-env.ctmpl"
  destination = "./aws-env.sh"
  perms       = "0600"
}
