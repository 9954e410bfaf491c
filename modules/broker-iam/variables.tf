variable "create" {
  description = "Whether to create anything at all."
  type        = bool
  default     = true
}

variable "name" {
  description = "Name of the broker's IAM user and/or role, and prefix of its policy."
  type        = string
  default     = "vaultlet-broker"

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.name))
    error_message = "The name must be 1 to 64 characters of letters, digits and `+=,.@_-`."
  }
}

variable "path" {
  description = "IAM path of the broker's own user, role and policy."
  type        = string
  default     = "/"

  validation {
    condition     = can(regex("^/([\\x21-\\x7E]+/)?$", var.path))
    error_message = "The path must start and end with `/`."
  }
}

################################################################################
# The broker's principal
################################################################################

variable "create_user" {
  description = "Whether to create an IAM user for the broker (give it an access key out of band: a key created by Terraform would sit in state)."
  type        = bool
  default     = true
}

variable "create_role" {
  description = "Whether to create an IAM role for the broker (for a broker running on EC2, ECS or EKS)."
  type        = bool
  default     = false
}

variable "role_assume_role_policy" {
  description = "Trust policy (JSON) of the broker's role. `null` trusts `ec2.amazonaws.com`."
  type        = string
  default     = null

  validation {
    condition     = var.role_assume_role_policy == null || can(jsondecode(var.role_assume_role_policy).Statement)
    error_message = "The role_assume_role_policy must be a JSON policy document with a Statement."
  }
}

################################################################################
# What the broker may do (least privilege)
################################################################################

variable "managed_user_path" {
  description = "IAM path reserved for the users the broker creates (`iam_user` credentials; vaultlet role setting `user_path`). The broker may only touch `vault-*` users under it."
  type        = string
  default     = "/vaultlet/"

  validation {
    condition     = can(regex("^/([\\x21-\\x7E]+/)?$", var.managed_user_path))
    error_message = "The managed_user_path must start and end with `/`, such as `/vaultlet/`."
  }
}

variable "target_account_ids" {
  description = "Accounts whose `role/vault-*` roles the broker may assume. Empty means any account (each target role's trust policy and external id still decide)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.target_account_ids : can(regex("^[0-9]{12}$", id))])
    error_message = "Each target account id must be 12 digits."
  }
}

variable "assumable_role_name_prefix" {
  description = "Name prefix of the roles the broker may assume (`role/<prefix>*`)."
  type        = string
  default     = "vault-"

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{2,32}$", var.assumable_role_name_prefix))
    error_message = "The assumable_role_name_prefix must be 2 to 32 characters of letters, digits and `+=,.@_-` (never empty: that would allow every role)."
  }
}

variable "managed_group_arns" {
  description = "IAM groups the broker may add its users to (vaultlet role setting `iam_groups`)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.managed_group_arns : can(regex("^arn:aws(-cn|-us-gov|-iso|-iso-b)?:iam::[0-9]{12}:group/", arn))])
    error_message = "Each managed group must be an IAM group ARN."
  }
}

variable "allow_federation_token" {
  description = "Whether the broker may call `sts:GetFederationToken` (`federation_token` roles); needs a broker user."
  type        = bool
  default     = false
}

variable "require_permissions_boundary" {
  description = "Whether every user the broker creates must carry `permissions_boundary_arn` (enforced with an `iam:PermissionsBoundary` condition; the broker may not remove it either)."
  type        = bool
  default     = false
}

variable "permissions_boundary_arn" {
  description = "Boundary policy required on the users the broker creates, when `require_permissions_boundary` is true (vaultlet role setting `permissions_boundary_arn`)."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary_arn == null || can(regex("^arn:aws(-cn|-us-gov|-iso|-iso-b)?:iam::([0-9]{12}|aws):policy/", var.permissions_boundary_arn))
    error_message = "The permissions_boundary_arn must be an IAM policy ARN."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
