# Offline unit tests: the external provider is mocked, so no server is needed.
# Run from this directory: terraform init && terraform test

mock_provider "external" {
  mock_data "external" {
    defaults = {
      result = {
        access_key     = "ASIAMOCKACCESSKEY"
        secret_key     = "mock-secret-key"
        security_token = "mock-session-token"
        lease_id       = "aws/creds/deploy/mock"
        lease_duration = "900"
        expiration     = "2030-01-01T00:15:00Z"
        arn            = "arn:aws:sts::123456789012:assumed-role/vault-deploy/session"
      }
    }
  }
}

variables {
  role = "deploy"
}

run "credentials_are_sensitive_and_typed" {
  command = plan

  variables {
    ttl      = "15m"
    role_arn = "arn:aws:iam::123456789012:role/vault-deploy"
  }

  assert {
    condition     = issensitive(output.access_key) && issensitive(output.secret_key) && issensitive(output.security_token)
    error_message = "Credential outputs must be sensitive."
  }

  assert {
    condition     = !issensitive(output.lease_id) && output.lease_id == "aws/creds/deploy/mock"
    error_message = "The lease id is not a secret and must be readable."
  }

  assert {
    condition     = output.lease_duration == 900 && output.expiration == "2030-01-01T00:15:00Z"
    error_message = "lease_duration must be a number and expiration passed through."
  }
}

run "query_holds_only_set_values" {
  command = plan

  variables {
    vault_address = "https://vault.example.com:8200"
    ttl           = "1h30m"
  }

  assert {
    condition     = data.external.this[0].query.ttl == "1h30m" && data.external.this[0].query.address == "https://vault.example.com:8200"
    error_message = "Set inputs must reach the program's query."
  }

  assert {
    condition     = !contains(keys(data.external.this[0].query), "role_arn") && !contains(keys(data.external.this[0].query), "tls_skip_verify")
    error_message = "Unset inputs must not be sent (null query values are omitted)."
  }

  assert {
    condition     = alltrue([for key in keys(data.external.this[0].query) : !contains(["token", "vault_token", "secret_id"], key)])
    error_message = "The Vault token must never travel through the query (it would be stored in state)."
  }
}

run "credential_process_only_issues_nothing_at_plan" {
  command = plan

  variables {
    create_credentials    = false
    profile_name          = "deploy"
    region                = "eu-west-1"
    namespace             = "team a's"
    expiry_window_seconds = 300
  }

  assert {
    condition     = length(data.external.this) == 0 && output.access_key == null && output.lease_id == null && output.lease_duration == null
    error_message = "With create_credentials = false nothing is read and outputs are null."
  }

  assert {
    condition     = strcontains(output.credential_process, " credential-process --role deploy --mount aws --type creds ") && strcontains(output.credential_process, "--expiry-window 300s")
    error_message = "credential_process must carry the same settings as flags."
  }

  assert {
    condition     = strcontains(output.credential_process, "--namespace 'team a'\\''s'")
    error_message = "Arguments must be quoted for sh -c."
  }

  assert {
    condition     = startswith(output.aws_config_profile, "[profile deploy]\ncredential_process = ") && strcontains(output.aws_config_profile, "\nregion = eu-west-1\n")
    error_message = "aws_config_profile must be a complete profile section."
  }
}

run "rejects_role_arn_that_is_not_a_role" {
  command = plan

  variables {
    role_arn = "arn:aws:iam::123456789012:user/vault-deploy"
  }

  expect_failures = [var.role_arn]
}

run "rejects_role_arn_with_short_account" {
  command = plan

  variables {
    role_arn = "arn:aws:iam::12345:role/vault-deploy"
  }

  expect_failures = [var.role_arn]
}

run "rejects_ttl_below_fifteen_minutes" {
  command = plan

  variables {
    ttl = "14m59s"
  }

  expect_failures = [var.ttl]
}

run "rejects_ttl_above_twelve_hours" {
  command = plan

  variables {
    ttl = "43201"
  }

  expect_failures = [var.ttl]
}

run "rejects_ttl_that_is_not_a_duration" {
  command = plan

  variables {
    ttl = "1 hour"
  }

  expect_failures = [var.ttl]
}

run "rejects_role_that_is_a_path" {
  command = plan

  variables {
    role = "aws/creds/deploy"
  }

  expect_failures = [var.role]
}

run "rejects_unknown_credential_type" {
  command = plan

  variables {
    credential_type = "iam_user"
  }

  expect_failures = [var.credential_type]
}

run "rejects_mount_with_slashes" {
  command = plan

  variables {
    mount = "/aws/"
  }

  expect_failures = [var.mount]
}

run "rejects_bad_session_name" {
  command = plan

  variables {
    role_session_name = "has space"
  }

  expect_failures = [var.role_session_name]
}

run "rejects_address_with_path" {
  command = plan

  variables {
    vault_address = "vault.example.com/v1"
  }

  expect_failures = [var.vault_address]
}
