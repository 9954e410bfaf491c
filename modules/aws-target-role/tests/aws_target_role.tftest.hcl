# Offline unit tests with a mocked AWS provider: terraform init && terraform test

mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

variables {
  name                   = "vault-deploy"
  trusted_principal_arns = ["arn:aws:iam::111111111111:user/vaultlet-broker"]
  external_id            = "vaultlet-prod"
}

run "plans_role_with_external_id_condition" {
  command = plan

  variables {
    max_session_duration = 7200
    managed_policy_arns  = { read_only = "arn:aws:iam::aws:policy/ReadOnlyAccess" }
    inline_policies = {
      s3 = jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "s3:ListBucket", Resource = "*" }] })
    }
  }

  assert {
    condition     = aws_iam_role.this[0].name == "vault-deploy" && aws_iam_role.this[0].max_session_duration == 7200
    error_message = "The role must carry the name and max session duration."
  }

  assert {
    condition     = one(one(data.aws_iam_policy_document.assume[0].statement).condition).variable == "sts:ExternalId"
    error_message = "The trust policy must require sts:ExternalId."
  }

  assert {
    condition     = toset(one(one(data.aws_iam_policy_document.assume[0].statement).condition).values) == toset(["vaultlet-prod"])
    error_message = "The trust policy must require the configured external id."
  }

  assert {
    condition     = length(aws_iam_role_policy_attachment.this) == 1 && length(aws_iam_role_policy.this) == 1
    error_message = "Managed and inline policies must be attached."
  }

  assert {
    condition     = issensitive(output.external_id)
    error_message = "The external id output must be sensitive."
  }
}

run "no_external_id_no_condition" {
  command = plan

  variables {
    external_id = null
  }

  assert {
    condition     = length(one(data.aws_iam_policy_document.assume[0].statement).condition) == 0
    error_message = "Without an external id the trust policy has no condition."
  }
}

run "create_false_is_null_safe" {
  command = plan

  variables {
    create = false
  }

  assert {
    condition     = output.arn == null && output.name == null && output.assume_role_policy == null
    error_message = "Outputs must be null when nothing is created."
  }
}

run "rejects_name_outside_broker_scope" {
  command = plan

  variables {
    name = "deploy"
  }

  expect_failures = [var.name]
}

run "rejects_name_too_long" {
  command = plan

  variables {
    name = "vault-${join("", [for i in range(60) : "x"])}"
  }

  expect_failures = [var.name]
}

run "rejects_trusted_principal_that_is_not_an_iam_arn" {
  command = plan

  variables {
    trusted_principal_arns = ["arn:aws:s3:::bucket"]
  }

  expect_failures = [var.trusted_principal_arns]
}

run "rejects_short_external_id" {
  command = plan

  variables {
    external_id = "x"
  }

  expect_failures = [var.external_id]
}

run "rejects_max_session_duration_out_of_bounds" {
  command = plan

  variables {
    max_session_duration = 900
  }

  expect_failures = [var.max_session_duration]
}

run "rejects_max_session_duration_above_twelve_hours" {
  command = plan

  variables {
    max_session_duration = 43201
  }

  expect_failures = [var.max_session_duration]
}

run "rejects_managed_policy_that_is_not_a_policy_arn" {
  command = plan

  variables {
    managed_policy_arns = { bad = "arn:aws:iam::123456789012:role/vault-x" }
  }

  expect_failures = [var.managed_policy_arns]
}

run "rejects_inline_policy_that_is_not_json" {
  command = plan

  variables {
    inline_policies = { bad = "Allow everything" }
  }

  expect_failures = [var.inline_policies]
}
