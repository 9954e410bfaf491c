# Offline unit tests with a mocked AWS provider: terraform init && terraform test

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "111111111111"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }

  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

run "scopes_users_to_path_and_roles_to_prefix" {
  command = plan

  variables {
    target_account_ids = ["222222222222", "333333333333"]
  }

  assert {
    condition     = output.managed_user_arn_pattern == "arn:aws:iam::111111111111:user/vaultlet/vault-*"
    error_message = "Users must be scoped to the dedicated path and the vault- prefix."
  }

  assert {
    condition     = tolist(output.assumable_role_arn_patterns) == tolist(["arn:aws:iam::222222222222:role/vault-*", "arn:aws:iam::333333333333:role/vault-*"])
    error_message = "AssumeRole must be scoped to role/vault-* in the target accounts."
  }

  assert {
    condition     = length(aws_iam_user.this) == 1 && length(aws_iam_role.this) == 0
    error_message = "By default the broker is an IAM user."
  }

  assert {
    condition = alltrue([
      for statement in data.aws_iam_policy_document.this[0].statement :
      alltrue([for resource in statement.resources : resource != "*"]) if statement.sid != "FindLeftoverUsers"
    ])
    error_message = "Only iam:ListUsers may use a wildcard resource."
  }
}

run "requires_permissions_boundary_on_created_users" {
  command = plan

  variables {
    require_permissions_boundary = true
    permissions_boundary_arn     = "arn:aws:iam::111111111111:policy/vaultlet-boundary"
  }

  assert {
    condition = one([
      for statement in data.aws_iam_policy_document.this[0].statement : one(statement.condition)
      if statement.sid == "ManageUserPolicies"
    ]).variable == "iam:PermissionsBoundary"
    error_message = "CreateUser must carry an iam:PermissionsBoundary condition."
  }

  assert {
    condition     = contains([for statement in data.aws_iam_policy_document.this[0].statement : statement.sid], "KeepPermissionsBoundary")
    error_message = "The broker must not be able to remove the boundary."
  }
}

run "no_boundary_no_condition" {
  command = plan

  assert {
    condition = length(one([
      for statement in data.aws_iam_policy_document.this[0].statement : statement.condition
      if statement.sid == "ManageUserPolicies"
    ])) == 0
    error_message = "Without a required boundary the statement has no condition."
  }
}

run "role_instead_of_user" {
  command = plan

  variables {
    create_user = false
    create_role = true
  }

  assert {
    condition     = length(aws_iam_role.this) == 1 && output.user_arn == null
    error_message = "create_role creates a role and no user."
  }
}

run "create_false_is_null_safe" {
  command = plan

  variables {
    create = false
  }

  assert {
    condition     = output.policy_arn == null && output.policy_json == null && output.managed_user_arn_pattern == null
    error_message = "Outputs must be null when nothing is created."
  }
}

run "rejects_boundary_requirement_without_boundary" {
  command = plan

  variables {
    require_permissions_boundary = true
  }

  expect_failures = [aws_iam_policy.this]
}

run "rejects_empty_role_prefix" {
  command = plan

  variables {
    assumable_role_name_prefix = ""
  }

  expect_failures = [var.assumable_role_name_prefix]
}

run "rejects_bad_account_id" {
  command = plan

  variables {
    target_account_ids = ["12345"]
  }

  expect_failures = [var.target_account_ids]
}

run "rejects_user_path_without_slashes" {
  command = plan

  variables {
    managed_user_path = "vaultlet"
  }

  expect_failures = [var.managed_user_path]
}

run "rejects_boundary_that_is_not_a_policy" {
  command = plan

  variables {
    permissions_boundary_arn = "arn:aws:iam::111111111111:role/vault-x"
  }

  expect_failures = [var.permissions_boundary_arn]
}
