variable "create" {
  description = "Whether to create the role."
  type        = bool
  default     = true
}

variable "name" {
  description = "Name of the role. It must start with `vault-`: the broker's least-privilege policy (module `broker-iam`) may only assume `role/vault-*`."
  type        = string
  default     = "vault-deploy"

  validation {
    condition     = can(regex("^vault-[A-Za-z0-9+=,.@_-]{1,58}$", var.name))
    error_message = "The name must start with `vault-` and be at most 64 characters of letters, digits and `+=,.@_-`."
  }
}

variable "path" {
  description = "IAM path of the role."
  type        = string
  default     = "/"

  validation {
    condition     = can(regex("^/([\\x21-\\x7E]+/)?$", var.path)) && length(var.path) <= 512
    error_message = "The path must start and end with `/`, such as `/` or `/vaultlet/`."
  }
}

variable "description" {
  description = "Description of the role."
  type        = string
  default     = "Assumed by the vaultlet broker to issue short-lived credentials"
}

variable "trusted_principal_arns" {
  description = "ARNs of the broker's IAM user or role (in the broker's account) allowed to assume this role."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.trusted_principal_arns : can(regex("^arn:aws(-cn|-us-gov|-iso|-iso-b)?:iam::[0-9]{12}:(root|(user|role)/([\\x21-\\x7E]+/)?[A-Za-z0-9+=,.@_-]{1,64})$", arn))])
    error_message = "Each trusted principal must be an IAM user, role or account-root ARN such as `arn:aws:iam::111111111111:user/vaultlet-broker`."
  }
}

variable "external_id" {
  description = "Value the broker must pass as `sts:ExternalId` (vaultlet role setting `external_id`). Guards against the confused-deputy problem; `null` means no condition, which is only acceptable within one account."
  type        = string
  default     = null

  validation {
    condition     = var.external_id == null || (can(regex("^[A-Za-z0-9+=,.@:/_-]+$", var.external_id)) && try(length(var.external_id) >= 2 && length(var.external_id) <= 1224, false))
    error_message = "The external_id must be 2 to 1224 characters of letters, digits and `+=,.@:/_-`."
  }
}

variable "max_session_duration" {
  description = "Longest session, in seconds, the broker may request (the vaultlet role's `max_sts_ttl` should not exceed it)."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_session_duration >= 3600 && var.max_session_duration <= 43200 && floor(var.max_session_duration) == var.max_session_duration
    error_message = "The max_session_duration must be a whole number of seconds between 3600 and 43200."
  }
}

variable "permissions_boundary" {
  description = "ARN of the policy that bounds the role's permissions."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary == null || can(regex("^arn:aws(-cn|-us-gov|-iso|-iso-b)?:iam::([0-9]{12}|aws):policy/", var.permissions_boundary))
    error_message = "The permissions_boundary must be an IAM policy ARN."
  }
}

variable "managed_policy_arns" {
  description = "Managed policies to attach, keyed by a name you choose (static keys let the ARNs be unknown until apply)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for arn in values(var.managed_policy_arns) : can(regex("^arn:aws(-cn|-us-gov|-iso|-iso-b)?:iam::([0-9]{12}|aws):policy/", arn))])
    error_message = "Each managed policy must be an IAM policy ARN such as `arn:aws:iam::aws:policy/ReadOnlyAccess`."
  }
}

variable "inline_policies" {
  description = "Inline policies, name => JSON policy document."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for document in values(var.inline_policies) : can(jsondecode(document).Statement)])
    error_message = "Each inline policy must be a JSON policy document with a Statement."
  }
}

variable "tags" {
  description = "Tags for the role."
  type        = map(string)
  default     = {}
}
