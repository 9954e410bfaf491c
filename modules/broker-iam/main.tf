data "aws_partition" "current" {
  count = var.create ? 1 : 0
}

data "aws_caller_identity" "current" {
  count = var.create ? 1 : 0
}

locals {
  partition  = try(data.aws_partition.current[0].partition, "aws")
  account_id = try(data.aws_caller_identity.current[0].account_id, "")

  managed_users = "arn:${local.partition}:iam::${local.account_id}:user${var.managed_user_path}vault-*"
  assumable_roles = length(var.target_account_ids) == 0 ? ["arn:${local.partition}:iam::*:role/${var.assumable_role_name_prefix}*"] : [
    for id in var.target_account_ids : "arn:${local.partition}:iam::${id}:role/${var.assumable_role_name_prefix}*"
  ]

  boundary_required = var.require_permissions_boundary && var.permissions_boundary_arn != null
}

################################################################################
# The least-privilege policy (Vault's documented set, scoped to what vaultlet names)
################################################################################

data "aws_iam_policy_document" "this" {
  count = var.create ? 1 : 0

  # Creating users and changing their policies: the actions that carry iam:PermissionsBoundary.
  statement {
    sid = "ManageUserPolicies"
    actions = [
      "iam:CreateUser",
      "iam:AttachUserPolicy",
      "iam:DetachUserPolicy",
      "iam:PutUserPolicy",
      "iam:DeleteUserPolicy",
    ]
    resources = [local.managed_users]

    dynamic "condition" {
      for_each = local.boundary_required ? [var.permissions_boundary_arn] : []

      content {
        test     = "StringEquals"
        variable = "iam:PermissionsBoundary"
        values   = [condition.value]
      }
    }
  }

  statement {
    sid = "ManageUserKeys"
    actions = [
      "iam:GetUser",
      "iam:DeleteUser",
      "iam:TagUser",
      "iam:ListUserTags",
      "iam:CreateAccessKey",
      "iam:DeleteAccessKey",
      "iam:ListAccessKeys",
      "iam:ListAttachedUserPolicies",
      "iam:ListUserPolicies",
      "iam:ListGroupsForUser",
    ]
    resources = [local.managed_users]
  }

  # vaultlet lists the users under its path to find leftovers after a crash; ListUsers
  # has no resource-level permissions.
  statement {
    sid       = "FindLeftoverUsers"
    actions   = ["iam:ListUsers"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = local.boundary_required ? [1] : []

    content {
      sid       = "KeepPermissionsBoundary"
      effect    = "Deny"
      actions   = ["iam:DeleteUserPermissionsBoundary", "iam:PutUserPermissionsBoundary"]
      resources = [local.managed_users]
    }
  }

  dynamic "statement" {
    for_each = length(var.managed_group_arns) > 0 ? [1] : []

    content {
      sid       = "ManageGroupMembership"
      actions   = ["iam:AddUserToGroup", "iam:RemoveUserFromGroup", "iam:ListAttachedGroupPolicies", "iam:ListGroupPolicies"]
      resources = var.managed_group_arns
    }
  }

  statement {
    sid       = "AssumeTargetRoles"
    actions   = ["sts:AssumeRole"]
    resources = local.assumable_roles
  }

  dynamic "statement" {
    for_each = var.allow_federation_token ? [1] : []

    content {
      sid       = "IssueFederationTokens"
      actions   = ["sts:GetFederationToken"]
      resources = ["arn:${local.partition}:sts::${local.account_id}:federated-user/vault-*"]
    }
  }
}

resource "aws_iam_policy" "this" {
  count = var.create ? 1 : 0

  name        = "${var.name}-policy"
  path        = var.path
  description = "Least privilege of the vaultlet broker"
  policy      = data.aws_iam_policy_document.this[0].json

  tags = var.tags

  lifecycle {
    # A precondition rather than a validation block: those may only name other variables from Terraform 1.9.
    precondition {
      condition     = !var.require_permissions_boundary || var.permissions_boundary_arn != null
      error_message = "require_permissions_boundary needs permissions_boundary_arn."
    }
  }
}

################################################################################
# The broker's own principal
################################################################################

resource "aws_iam_user" "this" {
  count = var.create && var.create_user ? 1 : 0

  name = var.name
  path = var.path

  tags = var.tags
}

resource "aws_iam_user_policy_attachment" "this" {
  count = var.create && var.create_user ? 1 : 0

  user       = aws_iam_user.this[0].name
  policy_arn = aws_iam_policy.this[0].arn
}

data "aws_iam_policy_document" "ec2_trust" {
  count = var.create && var.create_role && var.role_assume_role_policy == null ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  count = var.create && var.create_role ? 1 : 0

  name               = var.name
  path               = var.path
  assume_role_policy = coalesce(var.role_assume_role_policy, try(data.aws_iam_policy_document.ec2_trust[0].json, null))

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "this" {
  count = var.create && var.create_role ? 1 : 0

  role       = aws_iam_role.this[0].name
  policy_arn = aws_iam_policy.this[0].arn
}
