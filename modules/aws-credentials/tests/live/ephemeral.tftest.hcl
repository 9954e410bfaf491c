# The module's ephemeral mode against a real vaultlet (VAULT_ADDR/VAULT_TOKEN from the
# environment): Terraform's mock providers do not support ephemeral resources yet.
# Run by tests/terraform/test_provider_module.py:
#   terraform init && terraform test -test-directory=tests/live

provider "vaultlet" {}

mock_provider "external" {}

variables {
  role                  = "deploy"
  ephemeral_credentials = true
}

run "ephemeral_mode_reads_nothing_through_external" {
  command = apply

  assert {
    condition     = length(data.external.this) == 0 && output.access_key == null && output.lease_id == null
    error_message = "The ephemeral mode must not issue credentials through data \"external\" (they would be stored)."
  }
}

run "ephemeral_outputs_carry_the_credentials" {
  command = apply

  variables {
    credential_type = "sts"
    ttl             = "15m"
  }

  assert {
    condition     = startswith(output.ephemeral_lease_id, "aws/sts/deploy/") && can(regex("^ASIA", output.ephemeral_access_key))
    error_message = "The ephemeral outputs must carry what the resource issued (sts/deploy)."
  }

  assert {
    condition     = issensitive(output.ephemeral_secret_key) && issensitive(output.ephemeral_security_token) && output.ephemeral_security_token != null
    error_message = "Keys must stay sensitive; STS credentials have a session token."
  }

  assert {
    condition     = timecmp(output.ephemeral_expiration, plantimestamp()) > 0
    error_message = "expiration must be an RFC 3339 time in the future."
  }
}

run "default_mode_opens_nothing" {
  command = plan

  variables {
    ephemeral_credentials = false
    create_credentials    = false
  }

  assert {
    condition     = length(ephemeral.vaultlet_aws_credentials.this) == 0 && output.ephemeral_access_key == null
    error_message = "Without ephemeral_credentials nothing is opened."
  }
}

run "ephemeral_mode_still_validates_the_role" {
  command = plan

  variables {
    role = "aws/creds/deploy"
  }

  expect_failures = [var.role]
}
